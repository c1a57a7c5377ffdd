#!/bin/sh
# Usage: Tests/bounded-stage.sh SECONDS COMMAND [ARGUMENT...]
# Runs one test stage for at most SECONDS. A stage that overruns lists the processes it still
# runs and is then stopped and fails, so a hang ends the build in bounded time with a clue.
# Ctrl-C stops the stage and everything it started.
limit=$1
shift
timeout --kill-after=30 "$limit" "$@" &
stage=$!
trap 'kill -TERM $stage 2>/dev/null' INT TERM
(
	sleep $((limit - 15)) && {
		echo "error: 15 s before its limit of $limit s this stage still runs: $*" >&2
		ps -eo pid,ppid,etime,args --forest | awk '$1 != 2 && $2 != 2' | cut -c1-240 >&2
	}
) &
watchdog=$!
while :; do
	wait $stage
	status=$?
	kill -0 $stage 2>/dev/null || break
done
# The watchdog goes first, so no shell is left to report its sleep's end as "Terminated".
sleeper=$(pgrep -P $watchdog)
kill $watchdog 2>/dev/null
[ -n "$sleeper" ] && kill $sleeper 2>/dev/null
[ $status -eq 124 ] && echo "error: stopped after $limit s: $*" >&2
exit $status
