# The two commands of the README, and a few more. Each installs what a fresh
# Debian machine lacks (with apt-get) before it builds.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps build test demo bench conformance sanitize check-arch install clean

all: build

deps:
	@sh tools/ensure-deps.sh build

$(BUILD)/CMakeCache.txt:
	@sh tools/ensure-deps.sh build
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

conformance: build
	cmake --build $(BUILD) --target conformance_programs -j $(JOBS)
	sh tests/conformance/run.sh $(BUILD)

demo: build
	@sh tools/demo.sh $(BUILD)

bench:
	@start=$$(date +%s) && sh tools/ensure-deps.sh bench && BENCH_START=$$start sh bench/run.sh

sanitize:
	@sh tools/ensure-deps.sh build
	cmake -S . -B build-asan -DOAK_SANITIZE=address -DOAK_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)
	cmake -S . -B build-tsan -DOAK_SANITIZE=thread -DOAK_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && ctest --output-on-failure -j $(JOBS)

check-arch:
	@sh tools/check-arch.sh build-arch

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-tsan build-arch
