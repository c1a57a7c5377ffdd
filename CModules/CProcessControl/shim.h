#ifndef CPROCESSCONTROL_SHIM_H
#define CPROCESSCONTROL_SHIM_H

// Process-control calls Swift cannot reach directly: prctl is variadic, and glibc declares
// pipe2 and posix_spawn_file_actions_addclosefrom_np only for _GNU_SOURCE.
#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <unistd.h>

int pipe2(int pipefd[2], int flags);
int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);

/// Asks the kernel to send `signal` to this process when its parent dies, so a memory node
/// never outlives the proxy that started it.
static inline int CProcessControl_setParentDeathSignal(int signal) {
    return prctl(PR_SET_PDEATHSIG, signal);
}

/// A pipe whose two ends are closed on exec, so no child started meanwhile inherits them.
static inline int CProcessControl_closeOnExecPipe(int ends[2]) {
    return pipe2(ends, O_CLOEXEC);
}

/// Makes a spawned child close every descriptor from `from` up that the other file actions
/// did not set up (glibc 2.34 and later).
static inline int CProcessControl_spawnClosesFrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

#endif
