# The front door. On a fresh Debian 12 machine `make demo` and `make test` are all
# the set-up there is: both run `make deps` first, which installs only what is missing.
PRESET ?= release
BUILD_DIR := build/$(PRESET)
JOBS ?= $(shell nproc)

# Debian packages the build, the tests and the demo need.
DEB_PACKAGES := ninja-build pkg-config libgtest-dev libgmock-dev libbenchmark-dev \
                libcli11-dev libfmt-dev liburing-dev \
                python3 socat ncat netcat-openbsd procps iproute2 \
                help2man dpkg-dev file gnuplot-nox prometheus-cpp-dev curl
# gnuplot-nox: `sockit bench --plot` (its test skips without it).
# prometheus-cpp-dev: the CLI's --metrics text (TextSerializer; docs/METRICS.md).
# help2man: the man pages; dpkg-dev (dpkg-shlibdeps) and file: cpack -G DEB's
# dependency lines (make test-package).

.PHONY: all build deps configure test test-package package-checks test-asan test-tsan fuzz demo bench bench-echo bench-scale bench-zc bench-micro bench-peers clean format lint

all: build

deps:
	@scripts/install-deps.sh $(DEB_PACKAGES)

configure:
	@cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build --preset $(PRESET) -j $(JOBS)

test: deps
	@$(MAKE) --no-print-directory build PRESET=$(PRESET)
	@ctest --preset $(PRESET)
ifeq ($(PRESET),release)
	@$(MAKE) --no-print-directory package-checks
endif

# The library as another project adopts it (issue 14): installed and found with
# find_package (shared and static) and pkg-config, added as a subdirectory, and
# packaged as .debs unpacked into a throwaway root (scripts/test-consumer.sh,
# scripts/test-deb.sh; about 40 s). Release builds only: a sanitizer build's
# library would need the consumer built with the same flags.
# SUBDIRECTORY_BUILD=1 also compiles the library as a subdirectory (about 1.5 min
# more; .ci/run sets it); otherwise that case is configured and checked only.
test-package: deps
	@$(MAKE) --no-print-directory build PRESET=release
	@$(MAKE) --no-print-directory package-checks PRESET=release

package-checks:
	@scripts/test-consumer.sh $(if $(SUBDIRECTORY_BUILD),--subdirectory-build) --install $(BUILD_DIR)
	@scripts/test-deb.sh $(BUILD_DIR)

test-asan: deps
	@$(MAKE) --no-print-directory test PRESET=asan

# ThreadSanitizer over the layers that run threads (the event loop's post() and
# cross-thread checks, the server's worker loops): their test executables only,
# selected by CTest label. TSAN_LAYERS="core event net tools" widens it.
TSAN_LAYERS ?= event net
TSAN_TARGETS = $(foreach layer,$(TSAN_LAYERS),$(patsubst tests/$(layer)/%.cpp,$(layer)_%,$(wildcard tests/$(layer)/*_test.cpp)))
test-tsan: deps
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan -j $(JOBS) --target $(TSAN_TARGETS)
	@ctest --preset tsan -L '^($(subst $(eval) ,|,$(strip $(TSAN_LAYERS))))$$'

# libFuzzer targets (fuzz/; issue 11) built with clang-19 under ASan+UBSan, each
# run FUZZ_SECONDS (default 60) from the seeds in fuzz/corpus/. GCC stays the
# compiler of everything else.
FUZZ_PACKAGES := clang-19 libfuzzer-19-dev libclang-rt-19-dev
fuzz: deps
	@scripts/install-deps.sh $(FUZZ_PACKAGES)
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)
	@scripts/fuzz.sh build/fuzz

demo: deps
	@$(MAKE) --no-print-directory build PRESET=release
	@scripts/demo.sh build/release/tools/sockit/sockit
	@scripts/fd-passing-demo.sh build/release/tools/sockit/sockit
	@printf '\n== sockit bench --quick: the IPC trade-off table, measured on this machine ==\n'
	@build/release/tools/sockit/sockit bench --quick

# Issue 3's echo benchmarks (docs/BENCHMARKS.md): about 10 minutes; BENCH_ROUNDS=N etc.
# are read from the environment. The report goes to stdout and build/bench/.
# BENCH_PACKAGES: the Asio and libuv peers (bench/), the ZeroMQ and nng message-rate
# peers (bench/peers/) and the external references iperf3 and sockperf; only the
# benchmarks need them.
BENCH_PACKAGES := libasio-dev libuv1-dev libzmq3-dev libnng-dev iperf3 sockperf
bench-echo: deps
	@scripts/install-deps.sh $(BENCH_PACKAGES)
	@$(MAKE) --no-print-directory build PRESET=release
	@scripts/bench-echo.sh build/release

# Issue 9's connection-count sweep (docs/BENCHMARKS.md, "Scaling with connections"):
# 100 to 10,000 connections (30,000 where the descriptor limit allows), depths 1
# and 16, Unix and TCP; the script prints its time estimate first (about 50 minutes
# with the defaults on 2 cores). BENCH_COUNTS, BENCH_SERVERS etc. are read from the
# environment; the report goes to stdout and build/bench/, the pictures (gnuplot)
# to docs/ after a full sweep.
bench-scale: deps
	@scripts/install-deps.sh $(BENCH_PACKAGES) gnuplot-nox
	@$(MAKE) --no-print-directory build PRESET=release
	@scripts/bench-scale.sh build/release

# Large writes with and without io_uring zero-copy sends (docs/BENCHMARKS.md): about
# 3 minutes; BENCH_ROUNDS, BENCH_ZC_TOTAL etc. are read from the environment. The veth
# path needs root (it creates two network namespaces and deletes them on exit).
bench-zc: deps
	@$(MAKE) --no-print-directory build PRESET=release
	@scripts/bench-zc.sh build/release

# Google Benchmark micro-benchmarks (bench/micro/): the codecs, Buffer, address
# parsing, timers and the shared-memory ring; under a minute. BENCH_MICRO_ARGS are
# passed on (e.g. --benchmark_filter=Shm).
bench-micro: deps
	@$(MAKE) --no-print-directory build PRESET=release
	@build/release/bench/micro/micro_benchmarks $(BENCH_MICRO_ARGS)

# Issue 12's message-rate peers (docs/BENCHMARKS.md, "Message-rate peers"): one-way
# 64-byte messages for sockit, ZeroMQ and nng over a Unix socket and TCP loopback,
# plus iperf3 and sockperf reference figures; about 1 minute with the defaults.
# BENCH_DURATION (3 s) and BENCH_ROUNDS (3) are read from the environment; the
# report goes to stdout and build/bench/peers-latest.md. Only the peers' programs are
# built; a peer whose library configure did not find has no target (and no row).
bench-peers: deps
	@scripts/install-deps.sh $(BENCH_PACKAGES)
	@$(MAKE) --no-print-directory configure PRESET=release
	@cmake --build --preset release -j $(JOBS) --target sockit_pushpull sockit_cli \
	  $$(ninja -C build/release -t targets all | sed -n 's/^\(zmq_pushpull\|nng_pushpull\): .*/\1/p')
	@scripts/bench-peers.sh build/release

# One after the other, even under make -j: two benchmarks at once would measure each other.
bench:
	@$(MAKE) --no-print-directory bench-echo
	@$(MAKE) --no-print-directory bench-scale
	@$(MAKE) --no-print-directory bench-zc
	@$(MAKE) --no-print-directory bench-micro
	@$(MAKE) --no-print-directory bench-peers

# clang-tidy-19 with .clang-tidy's checks over src/ and tools/ (or FILES="a.cpp b.cpp").
lint: deps
	@scripts/lint.sh $(FILES)

format:
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean:
	@rm -rf build
