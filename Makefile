# Makefile - builds build/extmetrics, its tests, fuzzers and benchmarks.
CC      ?= cc
PKGS    := libmicrohttpd gnutls openssl libcurl jansson yaml-0.1 libpq hiredis libmariadb librabbitmq
BUILD   ?= build
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT     ?= -O2 -g
# snprintf truncation is deliberate and checked where it matters; gcc-only flag.
NOTRUNC := $(if $(findstring clang,$(CC)),,-Wno-format-truncation)
CFLAGS  := $(OPT) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter $(NOTRUNC) \
           -fno-strict-aliasing -pthread -I. -DEM_VERSION='"$(VERSION)"' $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS) -pthread -lm

# Every source under the three top folders, subfolders included: a new file or folder needs no change here.
TREE    := adapter apiservice scalers
SRC     := $(sort $(shell find $(TREE) -name '*.c'))
LIBSRC  := $(filter-out adapter/main.c,$(SRC))
OBJ     := $(SRC:%.c=$(BUILD)/obj/%.o)
LIBOBJ  := $(LIBSRC:%.c=$(BUILD)/obj/%.o)
HDR     := $(sort $(shell find $(TREE) -name '*.h' -o -name '*.def'))

UNIT_SRC := $(sort $(wildcard test/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:test/unit/%.c=$(BUILD)/test/%)
FUZZ_SRC := $(sort $(wildcard test/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:test/fuzz/%.c=build/fuzz/%)

.PHONY: all run image test checksrc unit integration e2e asan asan-test fuzz fuzz-build bench deps clean
.DEFAULT_GOAL := all

all: $(BUILD)/extmetrics

$(BUILD)/extmetrics: $(OBJ)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $(OBJ) $(LDLIBS)

$(BUILD)/obj/%.o: %.c $(HDR)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/test/%: test/unit/%.c $(wildcard test/unit/*.h) $(LIBOBJ)
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	@$(CC) $(CFLAGS) -DTH_MAIN -o $@ $< $(LIBOBJ) $(LDLIBS)

deps:
	@scripts/deps.sh

# Sets everything up, then serves the embedded demo config in the foreground.
PORT         ?= 6443
METRICS_PORT ?= 9022
run: deps all
	@PORT=$(PORT) METRICS_PORT=$(METRICS_PORT) scripts/run-demo.sh

# The OCI image (binary, its libraries, CA bundle, tzdata) as an archive, without a container
# engine; its config comes from the Dockerfile's final stage, the version label from the binary.
# Fixed times: same inputs, same digest.
IMAGE         ?= extmetrics:latest
IMAGE_ARCHIVE ?= $(BUILD)/extmetrics-image.oci.tar
IMAGE_SOURCE  ?= $(shell git remote get-url origin 2>/dev/null)
REVISION      ?= $(shell git rev-parse HEAD 2>/dev/null)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
image: all
	@scripts/image.py --binary $(BUILD)/extmetrics --dockerfile Dockerfile --ref '$(IMAGE)' \
		--build-arg 'REVISION=$(REVISION)' --build-arg 'SOURCE=$(IMAGE_SOURCE)' \
		--epoch $(SOURCE_DATE_EPOCH) --out $(IMAGE_ARCHIVE)

unit: $(UNIT_BIN)
	@scripts/run-unit.sh $(UNIT_BIN)

integration: all
	@EXTMETRICS=$(BUILD)/extmetrics scripts/run-integration.sh

# CODE_STYLE.md's mechanical rules on every source file.
checksrc:
	@python3 scripts/checksrc.py && echo "checksrc: ok"

# A real kube-apiserver and HPA controller (built once from Debian's source, cached outside the
# repository) scaling the examples' workloads through extmetrics.
e2e: deps all
	@scripts/e2e.sh

# The README's test command: install, style check, build, unit tests, fuzz smoke, integration.
test: deps
	@$(MAKE) --no-print-directory checksrc all unit
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-10}
	@$(MAKE) --no-print-directory integration

# AddressSanitizer + UBSan build of the binary and the tests, then the same tests.
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
asan:
	@$(MAKE) --no-print-directory BUILD=build/asan CC=clang OPT="$(ASAN_FLAGS)" \
		build/asan/extmetrics $(UNIT_SRC:test/unit/%.c=build/asan/test/%)

asan-test: deps asan
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		scripts/run-unit.sh $(UNIT_SRC:test/unit/%.c=build/asan/test/%)
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		EXTMETRICS=build/asan/extmetrics scripts/run-integration.sh

# libFuzzer targets, each run briefly in `make test` (FUZZ_SECONDS).
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -pthread \
               -I. -DEM_VERSION='"fuzz"' $(PKG_CFLAGS) -O1 -g -fno-sanitize-recover=all
FUZZ_OBJ := $(LIBSRC:%.c=build/fuzz/obj/%.o)
fuzz-build: $(FUZZ_BIN)
# keep the objects: make would delete them as intermediates and rebuild them every run
.SECONDARY: $(FUZZ_OBJ)
build/fuzz/obj/%.o: %.c $(HDR)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (fuzz)"
	@clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<
build/fuzz/%: test/fuzz/%.c test/fuzz/fuzz.h $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	@clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_OBJ) $(LDLIBS)

# `make fuzz`: each target to a million executions (an hour at most); `make test` passes FUZZ_SECONDS.
fuzz: deps fuzz-build
	@scripts/run-fuzz.sh $${FUZZ_SECONDS:-3600} $${FUZZ_RUNS:-1000000} $(FUZZ_BIN)

$(BUILD)/bench/loadgen: test/bench/loadgen.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CC) $(OPT) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -pthread -o $@ $< -lssl -lcrypto

# Ratios against nginx and per-unit costs, printed (never asserted).
bench: deps all $(BUILD)/bench/loadgen
	@test/bench/serve.sh
	@LOADGEN=$(BUILD)/bench/loadgen python3 test/bench/auth.py
	@python3 test/bench/scale.py
	@python3 test/bench/churn.py
	@test/bench/cloudwatch.sh
	@python3 test/bench/idle.py

clean:
	rm -rf build
