# sora.c — build, test, demo.  `make` builds common/libsora.a and every program into bin/.
#
#   make [CUDA=1]        build (CUDA=1 also compiles the .cu sources with nvcc)
#   make test            install deps, build (also with CUDA=1 when nvcc exists), lint, run all tests
#   make test-asan       the same tests on an AddressSanitizer + UBSan build (in build/asan/)
#   make test-cuda       CUDA parity tests on a machine with a GPU ("no CUDA device" and exit 0 without)
#   make demo            the main job end to end on sample data it makes itself
#   make bench           benchmarks against the named peers
#   make fuzz            libFuzzer on the safetensors reader for FUZZ_TIME seconds (default 300)
#   make install PREFIX=/usr/local
#   make format | lint | clean

PREFIX ?= /usr/local
O ?= build
BIN ?= bin
CUDA ?= 0
NVCC ?= nvcc
CUDA_HOME ?= /usr/local/cuda
CUDA_ARCHS ?= 80 90
VERSION := 0.1.0

CC ?= gcc
CXX ?= g++
PKGS := libavformat libavcodec libavutil libswscale libavfilter libcjson lmdb openblas libutf8proc libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) opencv4 2>/dev/null)
# Only the OpenCV modules the shims use, not the ~60 that opencv4.pc lists.
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lopencv_video -lopencv_imgproc -lopencv_core

WARN := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 -Icommon $(WARN) -pthread -fopenmp -MMD -MP -DSORA_VERSION='"$(VERSION)"' $(PKG_CFLAGS) $(SAN)
# C++ only in the thin shims over C++ libraries (OpenCV, SentencePiece): common/**/*.cpp.
CXXFLAGS ?= -O2 -g
override CXXFLAGS += -std=c++17 -Icommon -Wall -Wextra -Werror -Wno-unused-parameter -pthread -MMD -MP $(PKG_CFLAGS) $(SAN)
# --as-needed: a program links only the libraries its objects use.
override LDFLAGS += -pthread -fopenmp -Wl,--as-needed $(SAN)
LDLIBS := $(PKG_LIBS) -lsentencepiece_train -lsentencepiece -lcsv -lstdc++ -lm

LIB := $(O)/libsora.a
LIB_SRC := $(shell find common -name '*.c' | sort)
LIB_CXX_SRC := $(shell find common -name '*.cpp' | sort)
LIB_OBJ := $(LIB_SRC:%.c=$(O)/%.o) $(LIB_CXX_SRC:%.cpp=$(O)/%.cpp.o)

PROG_SRC := $(sort $(wildcard preprocess/sora-*.c scoring/sora-*.c caption/sora-*.c encode/sora-*.c \
                              train/sora-*.c infer/sora-*.c))
PROGS := $(patsubst %.c,$(BIN)/%,$(notdir $(PROG_SRC)))

TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TESTS := $(TEST_SRC:tests/unit/%.c=$(O)/tests/%)
TEST_HELPERS := $(O)/tests/peak_rss
# What every test shares (tests/common/): the comparison of compare.h.
TEST_COMMON_SRC := $(sort $(wildcard tests/common/*.c))
TEST_COMMON := $(TEST_COMMON_SRC:tests/common/%.c=$(O)/test-common/%.o)

CU_SRC := $(shell find common -name '*.cu' | sort)
CU_OBJ := $(CU_SRC:%.cu=$(O)/%.cu.o)
CUDA_LIB := $(O)/libsora_cuda.a
NVCC_FLAGS := -O2 -g -std=c++17 -Icommon -Xcompiler -Wall,-Werror $(foreach a,$(CUDA_ARCHS),-gencode arch=compute_$(a),code=sm_$(a))
CUDA_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcudart_static -ldl -lrt -lstdc++

ALL := $(LIB) $(PROGS)
ifeq ($(CUDA),1)
ALL += $(CUDA_LIB) $(O)/cuda/cuda_check
endif

# Keep program objects: they are intermediate files of the bin/ pattern rule.
.SECONDARY:

.PHONY: all test test-unit test-e2e test-asan test-cuda demo bench fuzz install clean format lint deps plot
.DEFAULT_GOAL := all

all: $(ALL)

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(O)/%.cpp.o: %.cpp
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(O)/%.cu.o: %.cu
	@mkdir -p $(@D)
	$(NVCC) $(NVCC_FLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(CUDA_LIB): $(CU_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BIN)/sora-%: $(O)/programs/sora-%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

vpath sora-%.c preprocess scoring caption encode train infer

$(O)/programs/sora-%.o: sora-%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(O)/test-common/%.o: tests/common/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(O)/tests/%: tests/unit/%.c $(TEST_COMMON) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(TEST_COMMON) $(LIB) $(LDFLAGS) -lcriterion $(LDLIBS) -o $@

$(O)/tests/peak_rss: tests/tools/peak_rss.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(LDFLAGS) -o $@

$(O)/cuda/cuda_check: $(wildcard tests/cuda/*.c) $(TEST_COMMON_SRC) $(CUDA_LIB) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(filter %.c,$^) $(CUDA_LIB) $(LIB) $(LDFLAGS) $(CUDA_LIBS) $(LDLIBS) -o $@

deps:
	@scripts/install-deps.sh

# Unit tests (Criterion) then programs in pipes (tests/e2e/*.sh); the last line is the total.
test: deps
	@$(MAKE) --no-print-directory all
	@if command -v $(NVCC) >/dev/null 2>&1; then $(MAKE) --no-print-directory CUDA=1 all; \
	 else echo "test: nvcc not found, CUDA build skipped"; fi
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory test-run

test-run: $(TESTS) $(TEST_HELPERS) $(PROGS)
	@SORA_BIN=$(abspath $(BIN)) SORA_TEST_BIN=$(abspath $(O)/tests) tests/run.sh $(TESTS)

# Sanitizer reports go to files (a report in a forked Criterion test or in a program inside a pipe would
# otherwise be easy to miss); run.sh fails when any appear.
test-asan:
	@$(MAKE) --no-print-directory deps
	@rm -rf build/asan/san-logs && mkdir -p build/asan/san-logs
	@ASAN_OPTIONS=log_path=$(abspath build/asan/san-logs)/asan:detect_leaks=1 \
	 LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0 \
	 UBSAN_OPTIONS=log_path=$(abspath build/asan/san-logs)/ubsan:print_stacktrace=1 \
	 SORA_SAN_LOGS=$(abspath build/asan/san-logs) \
	 $(MAKE) --no-print-directory O=build/asan BIN=build/asan/bin CFLAGS="-O1 -g" \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		test-run

test-cuda:
	@$(MAKE) --no-print-directory CUDA=1 all
	@$(O)/cuda/cuda_check

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

# The loss curve of a sora-train run: make plot RUN=runs/x → runs/x/loss.png.
plot:
	@scripts/plot-loss.sh "$(RUN)"

bench: deps
	@scripts/install-deps.sh --bench
	@$(MAKE) --no-print-directory all
	@for b in bench/*.sh; do echo "== $$b"; SORA_BIN=$(abspath $(BIN)) SORA_LIB=$(abspath $(LIB)) $$b || exit 1; done

# The committed seeds stay read-only (second corpus directory); what libFuzzer finds goes to $(O)/fuzz.
FUZZ_TIME ?= 300
FUZZ_SRC := tests/fuzz/fuzz_safetensors.c common/io/safetensors.c common/nn/tensor.c common/util/err.c \
	common/util/file.c
fuzz: deps
	@scripts/install-deps.sh --fuzz
	@mkdir -p $(O)/fuzz/corpus
	clang -std=gnu11 -g -O1 -Icommon $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined $(FUZZ_SRC) -lcjson -lm -o $(O)/fuzz/fuzz_safetensors
	$(O)/fuzz/fuzz_safetensors -max_total_time=$(FUZZ_TIME) -max_len=4096 -timeout=10 \
		$(O)/fuzz/corpus tests/fuzz/safetensors

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/sora
	install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/
	cd common && find . -name '*.h' -exec install -D -m 644 {} $(DESTDIR)$(PREFIX)/include/sora/{} \;

FORMAT_SRC = $(shell git ls-files '*.c' '*.h' '*.cu' '*.cuh' '*.cpp' 2>/dev/null)

format:
	clang-format -i $(FORMAT_SRC)

# clang-format and cppcheck on every source; clang-tidy on the C files changed since origin/main
# (or the last commit when there is no remote), since it is slow.
lint:
	@clang-format --dry-run -Werror $(FORMAT_SRC)
	@cppcheck -q --error-exitcode=1 --enable=warning,portability,performance --inline-suppr \
		--suppress=missingIncludeSystem --suppress=unknownMacro --std=c11 -I common $(filter %.c,$(FORMAT_SRC))
	@changed=$$(scripts/changed-c-files.sh); \
	 if [ -n "$$changed" ]; then clang-tidy --quiet $$changed -- -std=gnu11 -Icommon -DSORA_VERSION='"$(VERSION)"' $(PKG_CFLAGS) 2>/dev/null \
	   | grep -E 'warning:|error:' && exit 1 || true; fi
	@echo "lint: ok"

clean:
	rm -rf build bin

-include $(shell find $(O) -name '*.d' 2>/dev/null)
