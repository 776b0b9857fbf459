# The two commands of the README, and a few more. Each installs what a fresh
# Debian machine lacks (with apt-get) before it builds.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
# make install PREFIX=DIR [DESTDIR=STAGE]: DESTDIR is prepended to every
# installed path (for packaging); make uninstall takes the same two.
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all deps build test demo docs bench conformance sanitize check-arch install uninstall clean

all: build

deps:
	@sh tools/ensure-deps.sh build

CONFIGURE = cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

$(BUILD)/CMakeCache.txt:
	@sh tools/ensure-deps.sh build
	$(CONFIGURE)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The suite's install test runs make install, which builds the docs.
test: build
	@sh tools/ensure-deps.sh build
	@sh tools/ensure-deps.sh docs
	@sh tools/ensure-deps.sh test
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

conformance: build
	cmake --build $(BUILD) --target conformance_programs -j $(JOBS)
	sh tests/conformance/run.sh $(BUILD)

# Only what the demo needs (the library and examples/sequence), quietly:
# the build's output goes to $(BUILD)/demo-build.log and is shown if it
# fails.
demo:
	@sh tools/ensure-deps.sh build
	@echo "demo: building examples/sequence (log: $(BUILD)/demo-build.log)"
	@mkdir -p $(BUILD)
	@{ [ -f $(BUILD)/CMakeCache.txt ] || $(CONFIGURE); } > $(BUILD)/demo-build.log 2>&1 && \
	  cmake --build $(BUILD) --target sequence -j $(JOBS) >> $(BUILD)/demo-build.log 2>&1 || \
	  { cat $(BUILD)/demo-build.log; exit 1; }
	@sh tools/demo.sh $(BUILD)

bench:
	@start=$$(date +%s) && sh tools/ensure-deps.sh bench && BENCH_START=$$start sh bench/run.sh

sanitize:
	@sh tools/ensure-deps.sh build
	@sh tools/ensure-deps.sh docs
	@sh tools/ensure-deps.sh test
	cmake -S . -B build-asan -DOAK_SANITIZE=address -DOAK_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)
	cmake -S . -B build-tsan -DOAK_SANITIZE=thread -DOAK_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && ctest --output-on-failure -j $(JOBS)

check-arch:
	@sh tools/check-arch.sh build-arch

# The HTML reference of the headers, from Doxygen: $(BUILD)/docs/html.
docs: $(BUILD)/CMakeCache.txt
	@sh tools/ensure-deps.sh docs
	@cmake --build $(BUILD) --target docs

install: build docs
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

uninstall:
	@sh tools/uninstall.sh "$(BUILD)" "$(PREFIX)" "$(DESTDIR)"

clean:
	rm -rf $(BUILD) build-asan build-tsan build-arch
