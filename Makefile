# Front door. `make bench` runs the main job, `make test` every test (Release, ASan+UBSan, fuzz and, on x86-64, the
# x86-64-v3 tree that an AVX2 machine builds).
JOBS ?= $(shell nproc)
PYTHON ?= /usr/bin/python3
RESULTS ?= results
# `make bench` (about 45 minutes on 2 cores with llama.cpp and llama2.c as peers) times each kernel benchmark for 0.05 s without the Llama-2-7B
# shapes and each variant twice in each of two A/B rounds; `make bench-full` runs every shape for 0.1 s and each variant 3 times in each of three rounds.
# Extra arguments: make bench BENCH_ARGS="--variants simd,q8 --threads 1" KERNEL_FILTER=matmul.simd
BENCH_ARGS ?= --profile --repetitions 2 --rounds 2
KERNEL_FILTER ?= .
KERNEL_EXCLUDE ?= llama2-7B
KERNEL_MIN_TIME ?= 0.05
# Batched decoding (bench_batched): B sequences decoded together, for the report's throughput-against-B figure.
BATCH_ARGS ?= --variants tbb,tbb-q8 --npp 64 --ntg 32 --npl 1,2,4,8,16,32,64
# Long contexts (bench_depth): decode and prefill after 0, 4096 and 16384 positions, per KV cache type, for the
# report's tok/s-against-depth figure (stories15M's shape, its context stretched: about two minutes).
DEPTH_ARGS ?= --synthetic stories15M --variants tbb,tbb-q8 --depth 0,4096,16384 -p 128 -n 64
# Other engines measured on the same models: make bench PEERS="llama.cpp=/path/llama-bench llama2.c=/path/run,/path/runomp"
PEERS ?=
# Seconds each fuzzer runs under `make fuzz` (`make test` runs each for a few seconds).
FUZZ_SECONDS ?= 60

.PHONY: all bootstrap build build-asan build-fuzz build-tsan build-v3 bench bench-full bench-kernels report test fuzz tsan clean

all: build

bootstrap:
	@scripts/bootstrap

build: bootstrap
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

build-asan: bootstrap
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)

build-fuzz: bootstrap
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)

# The tree an AVX2 machine would build: no AVX-512 instruction anywhere, kernels up to AVX-VNNI.
build-v3: bootstrap
	@cmake --preset x86-64-v3 >/dev/null
	@cmake --build --preset x86-64-v3 -j $(JOBS)

build-tsan: bootstrap
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan -j $(JOBS)

# The main job: this machine's ceilings, every kernel alone, every variant end to end, the report.
bench: build
	@echo "[1/6] machine probe: read bandwidth and compute peaks -> $(RESULTS)/machine.json"
	@build/bin/probe_machine -o $(RESULTS)/machine.json
	@echo "[2/6] kernel sweep: every kernel alone -> $(RESULTS)/bench_kernels.json"
	@$(PYTHON) scripts/run_kernel_sweep.py --bench build/bin/bench_kernels --filter '$(KERNEL_FILTER)' \
	  --exclude '$(KERNEL_EXCLUDE)' --min-time $(KERNEL_MIN_TIME) --out $(RESULTS)/bench_kernels.json
	@echo "[3/6] end to end: every variant, model and thread count against the baselines -> $(RESULTS)/*.jsonl"
	@build/bin/bench_all --output $(RESULTS) $(BENCH_ARGS) $(addprefix --peer ,$(PEERS))
	@echo "[4/6] batched decoding: aggregate decode tok/s against the sequences decoded together -> $(RESULTS)/*.jsonl"
	@build/bin/bench_batched --output $(RESULTS) $(BATCH_ARGS)
	@echo "[5/6] long contexts: decode and prefill after 0, 4096 and 16384 positions per KV cache type -> $(RESULTS)/*.jsonl"
	@build/bin/bench_depth --output $(RESULTS) $(DEPTH_ARGS) $(addprefix --peer ,$(filter llama.cpp%,$(PEERS)))
	@echo "[6/6] machine probe again, keeping the better figure of each, then the report -> $(RESULTS)/report/REPORT.md"
	@build/bin/probe_machine --keep-best -o $(RESULTS)/machine.json
	@$(PYTHON) scripts/report.py --results $(RESULTS) --out $(RESULTS)/report

bench-full:
	@$(MAKE) --no-print-directory bench KERNEL_EXCLUDE= KERNEL_MIN_TIME=0.1 BENCH_ARGS="--profile --repetitions 3 --rounds 3"

bench-kernels: build
	build/bin/bench_kernels --benchmark_filter='$(KERNEL_FILTER)' --benchmark_min_time=$(KERNEL_MIN_TIME)

report:
	$(PYTHON) scripts/report.py --results $(RESULTS) --out $(RESULTS)/report

test: build build-asan build-fuzz $(if $(filter x86_64,$(shell uname -m)),build-v3)
	ctest --preset release -j $(JOBS)
	ctest --preset asan -j $(JOBS)
	ctest --preset fuzz -j $(JOBS)
	$(if $(filter x86_64,$(shell uname -m)),ctest --preset x86-64-v3 -j $(JOBS))

# Each loader fuzzer for FUZZ_SECONDS; the corpus grows in build-fuzz/fuzz/corpus, crashes land in build-fuzz/fuzz/artifacts.
fuzz: build-fuzz
	scripts/fuzz build-fuzz $(FUZZ_SECONDS)

# The matmul and attention tests under ThreadSanitizer; tests/tsan.supp says what it cannot see.
tsan: build-tsan
	ctest --preset tsan -j $(JOBS)

clean:
	rm -rf build build-asan build-fuzz build-tsan
