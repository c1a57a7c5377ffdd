# InfiniStore: the two commands a new machine needs are `make run` and `make test`; both install
# what is missing first.

SWIFT ?= swift
APT_PACKAGES := libisal-dev liblz4-dev redis-tools
QUICK ?=

# Runs apt-get as root, through sudo otherwise, or says what to install.
define install_apt
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; \
		else echo "error: missing Debian packages:$$missing (run: sudo apt-get install$$missing)" >&2; exit 1; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

.PHONY: deps build run test bench-coding bench-redis bench-lineage clean

deps:
	$(install_apt)
	@python3 -c "import redis" 2>/dev/null || python3 -m pip install --quiet 'redis>=5'
	@python3 -c "import moto.server" 2>/dev/null || python3 -m pip install --quiet 'moto[server]>=5'

build: deps
	$(SWIFT) build -c release

# The proxy on 127.0.0.1:6378 with local memory-node processes; Ctrl-C stops it and its nodes.
# Extra flags go in ARGS, e.g. `make run ARGS="--ec 4+2 --nodes 8"`.
run: deps
	$(SWIFT) build -c release --product infinistore
	.build/release/infinistore serve $(ARGS)

# Each stage has a time limit (Tests/bounded-stage.sh), so a hang fails the run instead of
# stalling it.
test: deps
	$(SWIFT) build --build-tests
	Tests/bounded-stage.sh 900 $(SWIFT) test --skip-build --skip InfiniStoreIntegrationTests --skip InfiniCOSTests
	@# The COS tests start moto_server and openssl processes of their own; run apart from the
	@# redis-py and redis-cli tests, so the two sets of child processes do not pile up.
	Tests/bounded-stage.sh 600 $(SWIFT) test --skip-build --filter InfiniCOSTests
	@# End-to-end tests load both cores with real processes; run them alone and one at a time, so
	@# timing-sensitive tests are not starved and chaos tests measure the system, not the machine.
	Tests/bounded-stage.sh 1500 $(SWIFT) test --skip-build --no-parallel --filter InfiniStoreIntegrationTests

# The coding microbenchmark: Swift against ISA-L and LZ4 called from C, in one process.
# QUICK=1 measures only the RATIO cases and prints `RATIO ...` as its last line.
bench-coding: deps
	$(SWIFT) build -c release --product coding-bench
	.build/release/coding-bench $(if $(QUICK),--quick,)

# redis-benchmark against redis-server and infinistore in one run (needs redis-server).
bench-redis: deps
	@command -v redis-server >/dev/null || { apt-get install -y -qq redis-server >/dev/null || sudo apt-get install -y -qq redis-server; }
	$(SWIFT) build -c release --product infinistore
	Benchmarks/redis-compare.sh

# The node lineage's write and recovery costs per snapshot interval, with S3's round trip modelled.
bench-lineage: deps
	$(SWIFT) build -c release --product lineage-bench
	.build/release/lineage-bench --latency-ms 20

clean:
	rm -rf .build
