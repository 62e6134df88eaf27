# Thin wrapper over CMake; see README.md.
BUILD ?= build/release
PREFIX ?= /usr/local
JOBS ?= 2

.PHONY: all deps deps-test build run bench test test-quick model install \
	format clean

all: build

# Install missing Debian packages (a no-op when everything is there).
deps:
	scripts/install-deps run

deps-test:
	scripts/install-deps test

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j$(JOBS)

# The main program on its default: a temporary two-volume mount, 1M keys
# loaded into the B-tree, a YCSB workload with a pool smaller than the
# tree, every answer verified, remount and check.
run: build
	$(BUILD)/tools/hammerlock run

# Benchmarks: the core (timings + callgrind), the cache hit path, and
# the key-value comparison with LMDB and SQLite.
bench: build
	BENCH_REFS=$(BUILD)/bench/bench_refs bench/run.sh
	BENCH_CACHE=$(BUILD)/bench/bench_cache bench/run_cache.sh
	BENCH_KV=$(BUILD)/bench/bench_kv bench/run_kv.sh

# Everything CI runs (five builds, the model, format check).
test: deps-test
	JOBS=$(JOBS) tests/run_all.sh

test-quick: deps-test
	JOBS=$(JOBS) tests/run_all.sh --quick

model: deps-test
	model/check.sh && model/check_table.sh && model/check_node.sh

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf build
