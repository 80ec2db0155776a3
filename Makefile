# Front door. `make bench` runs the main job, `make test` every test (Release and ASan+UBSan trees).
JOBS ?= $(shell nproc)

.PHONY: all bootstrap build build-asan bench test clean

all: build

bootstrap:
	@scripts/bootstrap

build: bootstrap
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

build-asan: bootstrap
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)

bench: build
	build/bin/bench_all

test: build build-asan
	ctest --preset release -j $(JOBS)
	ctest --preset asan -j $(JOBS)

clean:
	rm -rf build build-asan
