# The two quick-start commands: `make demo` and `make test`. Both install missing Debian packages (as root),
# configure and build with CMake, then run. Other targets: build, learn, exercises, exercises-check, bench,
# fixtures, figures, fuzz, fuzz-smoke, clean.
#   make test CXR_SANITIZE=ON   builds in build-asan/ with ASan + UBSan and runs the suite there.
CXR_SANITIZE ?= OFF
JOBS ?= $(shell nproc)
ifeq ($(CXR_SANITIZE),ON)
BUILD ?= build-asan
BUILD_TYPE ?= RelWithDebInfo
# The Google Benchmark programs are not tests: the release build compiles them, the sanitizer build saves
# their minutes of compiling with ASan.
BUILD_BENCH ?= OFF
else
BUILD ?= build
BUILD_TYPE ?= Release
BUILD_BENCH ?= ON
endif

.PHONY: all build build-cxr test test-tsan demo bench fixtures figures clean deps-build deps-test deps-learn fuzz fuzz-smoke learn exercises exercises-check

all: build

deps-build:
	@scripts/install-deps.sh build
deps-test:
	@scripts/install-deps.sh test
deps-learn:
	@scripts/install-deps.sh learn

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCXR_SANITIZE=$(CXR_SANITIZE) -DCXR_BUILD_BENCH=$(BUILD_BENCH)

build: deps-build $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The cxr binary alone: what the demo runs (a newcomer's first command does not compile the test suite).
build-cxr: deps-build $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target cxr

# Tests run side by side, so each runs single-threaded (CXR_THREADS=1): two OpenMP teams spinning on two
# cores slow everything down by an order of magnitude. Tests of thread-count independence set their own.
test: deps-test build
	cd $(BUILD) && CXR_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive ctest --output-on-failure -j $(JOBS)

# The threaded tests (ctest label tsan) under ThreadSanitizer, clang + Archer in build-tsan/, at 2 and 4
# threads (TSAN_THREADS): non-zero on any report (scripts/tsan.sh; docs/RELIABILITY.md, "ThreadSanitizer").
TSAN_THREADS ?= 2 4
test-tsan:
	@scripts/install-deps.sh tsan
	TSAN_THREADS="$(TSAN_THREADS)" JOBS=$(JOBS) scripts/tsan.sh

# The learning path (docs/LEARN.md): in build-learn/, only core, autograd, layers, examples/ with their
# test and the exercises' stubs with their graders, configured with CXR_LEARN_ONLY so CMake looks for
# OpenBLAS, OpenMP and GoogleTest alone (no image libraries, MPI or Chromium); then the examples' test, which
# compares each program's output with its doc (the graders fail until solved: `make exercises` runs them).
LEARN_BUILD ?= build-learn
$(LEARN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(LEARN_BUILD) -DCMAKE_BUILD_TYPE=Release -DCXR_LEARN_ONLY=ON -DCXR_MPI=OFF -DCXR_BUILD_BENCH=OFF \
	  -DCXR_EXERCISES=ON

learn: deps-learn $(LEARN_BUILD)/CMakeCache.txt
	cmake --build $(LEARN_BUILD) -j $(JOBS)
	cd $(LEARN_BUILD) && CXR_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive ctest --output-on-failure -L learn

# The exercises (docs/EXERCISES.md): the stubs of exercises/ and their graders in build-ex/, with the learning
# path's dependencies only. Fails, listing each failing grader, until every exercise is solved; one grader
# alone: `cd build-ex && ctest -R Exercise.Sigmoid`.
EX_BUILD ?= build-ex
$(EX_BUILD)/CMakeCache.txt:
	cmake -S . -B $(EX_BUILD) -DCMAKE_BUILD_TYPE=Release -DCXR_LEARN_ONLY=ON -DCXR_MPI=OFF -DCXR_BUILD_BENCH=OFF \
	  -DCXR_EXERCISES=ON

exercises: deps-learn $(EX_BUILD)/CMakeCache.txt
	cmake --build $(EX_BUILD) -j $(JOBS) --target test_exercises
	cd $(EX_BUILD) && CXR_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive ctest --output-on-failure -L exercise

# For CI: the solutions pass every grader (build-ex-sol/) and the stubs fail every one (build-ex-stub/).
exercises-check: deps-learn
	JOBS=$(JOBS) scripts/exercises-check.sh

demo: build-cxr
	scripts/demo.sh $(BUILD)

bench: build
	scripts/bench.sh $(BUILD)

# Every committed fixture, from its generator script (Debian's python3-torch); a clean `git status
# tests/fixtures` afterwards means they regenerate byte for byte.
fixtures:
	@scripts/install-deps.sh fixtures
	/usr/bin/python3 tests/fixtures/make_fixtures.py
	/usr/bin/python3 tests/fixtures/make_gradcam_fixtures.py
	/usr/bin/python3 tests/fixtures/make_vgg_names.py
	/usr/bin/python3 tests/fixtures/make_interop_fixtures.py
	/usr/bin/python3 tests/fixtures/make_trajectory_fixtures.py

# docs/img/ from cxr's own output (scripts/make_figures.sh): write_dot's graphs rendered by Graphviz, im2col's
# windows, a demo panel, a shortcut-marker case and the sanity check's cascade from a one-minute training run.
# Rerun it after a change that alters what a picture shows: it overwrites docs/img/.
figures: build-cxr
	@scripts/install-deps.sh figures
	cmake --build $(BUILD) -j $(JOBS) --target cxr_figures bench_sgemm
	scripts/make_figures.sh $(BUILD)

# libFuzzer targets of every parser that reads outside bytes (tests/fuzz), clang + ASan + UBSan in build-fuzz/:
# each runs FUZZ_SECONDS (default 60) in turn; non-zero on any crash, leak, timeout or OOM (scripts/fuzz.sh).
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/install-deps.sh fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) scripts/fuzz.sh
# For CI: every target for 10 s.
fuzz-smoke:
	@scripts/install-deps.sh fuzz
	FUZZ_SECONDS=10 JOBS=$(JOBS) scripts/fuzz.sh

clean:
	rm -rf build build-asan build-fuzz build-nompi build-tsan build-learn build-ex build-ex-sol build-ex-stub
