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

# The main program on its default.  Until the cache and its CLI exist,
# that is the benchmark of the core.
run: build
	$(BUILD)/bench/bench_refs

bench: build
	BENCH_REFS=$(BUILD)/bench/bench_refs bench/run.sh

# Everything CI runs (five builds, the model, format check).
test: deps-test
	JOBS=$(JOBS) tests/run_all.sh

test-quick: deps-test
	JOBS=$(JOBS) tests/run_all.sh --quick

model: deps-test
	model/check.sh && model/check_table.sh

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf build
