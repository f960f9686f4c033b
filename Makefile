# Bulwark: the one entry point. `make run` and `make test` are all a new user
# needs; both install host packages first (make deps) and build (./build.sh).

SHELL := /bin/bash
B := build
# generated headers: syscall names, links to the kernel UAPI headers (app/init)
GEN_DIR := $(B)/gen
UAPI_DIR := $(GEN_DIR)/uapi
PYTEST := /usr/bin/python3 -m pytest
VERSION := $(shell cat VERSION)

.PHONY: all build deps run run-native test test-unit test-integration test-image test-sanitize fuzz fuzz-smoke fuzz-targets \
    bench bench-peers clean clean-demo binaries help audit sbom lint print-lint-flags attack-unpatched repro-check

all: build

help:
	@echo "make run     build and boot the image under QEMU: https://localhost:8443 (demo identity)"
	@echo "make run-native  build and serve with the native build/bin/bulwark instead"
	@echo "make test    build and run every test"
	@echo "make test-image  the default-policy tests against the booted image (QEMU; tests/system/image-policy.txt)"
	@echo "make test-sanitize  integration and attack tests against an ASan+UBSan build (clang)"
	@echo "make fuzz    every libFuzzer target for FUZZ_SECONDS each (default $(FUZZ_SECONDS))"
	@echo "make bench   bulwark vs Debian's stock h2o (tests/bench)"
	@echo "make audit   known advisories of every locked component (deps/advisories.yaml)"
	@echo "make sbom    write build/image/sbom.spdx.json (SPDX 2.3) for the image files built"
	@echo "make lint    static analysis of our C and shell (tests/lint/README.md)"
	@echo "make repro-check  two builds under different conditions, compared byte for byte (~1 h: one cold build)"
	@echo "make deps    install the host packages (apt-get)"
	@echo "make clean   remove build/ (the source/build cache in ~/.cache/bulwark stays)"

deps:
	@deps/host-deps

build: deps
	./build.sh

# `make run` boots build/image under QEMU (qemu/run: QEMU_PROFILE microvm,
# q35 or uefi; the demo secrets volume); its serial console is this terminal.
QEMU_PROFILE ?= microvm
run: build
	@echo "Booting build/image ($(QEMU_PROFILE)): https://localhost:8443 and http://localhost:8080."
	@echo "Trust the demo CA: curl --cacert $(B)/demo/ca.pem https://localhost:8443/healthz"
	@echo "The console is this terminal; Ctrl-A X stops QEMU."
	qemu/run --profile $(QEMU_PROFILE)

# The same service as a native process on this host, no VM.
run-native: build
	@echo "Serving https://localhost:8443 and http://localhost:8080 (Ctrl-C stops)."
	@echo "Trust the demo CA: curl --cacert $(B)/demo/ca.pem https://localhost:8443/healthz"
	$(B)/bin/bulwark serve --https 127.0.0.1:8443 --http 127.0.0.1:8080 \
	    --secrets $(B)/demo/secrets

# Every test (tests/run-all): the suite on the appliance's binary, the
# default-policy tests on the booted image, the same integration and attack
# suites on the sanitizer build, then the fuzz smoke. Every step runs even
# after one failed; the last line sums them: "N passed, N failed".
test: build
	SANITIZE_TEST_ARGS='$(SANITIZE_TEST_ARGS)' MAKE='$(MAKE)' tests/run-all

# DEFAULT-POLICY.md on the release image booted once under QEMU
# (tests/README.md, "Against the booted image"): the tests listed in
# IMAGE_SELECTION; `make test-image IMAGE_SELECTION=` runs every test that
# can run there (far longer: one client address, 100 requests a minute).
IMAGE_SELECTION ?= tests/system/image-policy.txt
test-image: build
	BULWARK_TARGET=image BULWARK_IMAGE_SELECTION=$(IMAGE_SELECTION) $(PYTEST) -p no:cacheprovider \
	    tests/integration tests/attack tests/system/test_image_policy.py

# The sanitizer build (clang, ASan+UBSan, glibc) of the service and of every
# library, in build/sanitize/ (tests/sanitize/README.md). The demo identity
# comes from the normal build.
test-sanitize: build
	tests/sanitize/build.sh
	tests/sanitize/run-tests.sh $(SANITIZE_PYTEST_ARGS)

# What `make test` leaves out of the sanitizer run: tests that measure speed
# (h2load throughput, PBKDF2 timing, /healthz latency under 20 logins) measure
# ASan there, and take a quarter of its time; `make test-sanitize` runs them.
SANITIZE_TEST_ARGS := -m "not load" -k "not take_similar_time and not p99_while_20_logins"

# libFuzzer targets (tests/fuzz/README.md): regressions and seeds replayed,
# then each target fuzzed for FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 15
fuzz: deps
	tests/sanitize/build.sh fuzz
	tests/fuzz/run.sh --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS_RUN)

fuzz-smoke: deps
	tests/sanitize/build.sh fuzz
	tests/fuzz/run.sh --seconds $(FUZZ_SMOKE_SECONDS)

bench: build
	tests/bench/h2o-vs-stock.sh

# The attack suite against our build and against one without our h2o
# security patches, side by side (tests/attack/README.md). Not in `make test`:
# it builds h2o a second time.
attack-unpatched: deps
	tests/attack/unpatched.sh

# Bulwark, nginx and a FastAPI app under the same contract (tests/bench/README.md);
# its packages are in tests/bench/host-packages.txt, not in make deps.
bench-peers: build
	tests/bench/peers.sh

# The advisory review (deps/README.md): fails when a lock entry changed
# since its review, or a patch, test or fact it relies on is gone.
audit: deps
	@deps/fetch
	@deps/audit

# Static analysis of our code (tests/lint/README.md); needs the build's headers.
lint: build
	@tests/lint/run

# what tests/lint/run compiles our C with (the same as the binaries below), one per line
print-lint-flags: $(UAPI_DIR)/.done $(GEN_DIR)/syscall_names.h
	@printf '%s\n' $(INCLUDES) $(DEFINES) -I$(GEN_DIR) -idirafter $(UAPI_DIR)

# The image's bill of materials, from the lock and whatever build/image holds.
sbom:
	@deps/fetch
	@image/sbom --image-dir $(B)/image

# Two full builds (this checkout, and HEAD elsewhere with another user, umask,
# time zone and an empty cache), every output compared byte for byte;
# diffoscope reports in build/repro/ (image/README.md, "Reproducible builds").
# Not part of `make test`: the second build is cold, kernel included.
repro-check: deps
	tests/repro/check.sh

clean:
	rm -rf $(B)

clean-demo:
	rm -rf $(B)/demo

# --- The service and the demo tool (called by ./build.sh's bulwark stage) ---
# Incremental: only changed files are recompiled (-MMD dependency files).

DEPS_DIR := $(B)/deps
INCLUDES := -Iapp -I$(DEPS_DIR)/h2o/include -I$(DEPS_DIR)/mbedtls/include \
    -I$(DEPS_DIR)/libyaml/include -I$(DEPS_DIR)/jansson/include
DEFINES := -DMBEDTLS_CONFIG_FILE='"mbedtls/bulwark_mbedtls_config.h"' \
    -DBULWARK_VERSION='"$(VERSION)"' -D_GNU_SOURCE -DH2O_USE_LIBUV=0
APP_CFLAGS = $(HARDEN_CFLAGS) -std=gnu11 -pthread -Wall -Wextra \
    -Wno-unused-parameter -MMD -MP $(INCLUDES) $(DEFINES)
LIBS := $(DEPS_DIR)/h2o/lib/libh2o-evloop.a $(DEPS_DIR)/mbedtls/lib/libmbedtls.a \
    $(DEPS_DIR)/mbedtls/lib/libmbedx509.a $(DEPS_DIR)/mbedtls/lib/libmbedcrypto.a \
    $(DEPS_DIR)/libyaml/lib/libyaml.a $(DEPS_DIR)/jansson/lib/libjansson.a

# The policy baked into the binary (app/policy_builtin.c embeds it).
POLICY ?= policy/default.yaml
$(B)/obj/app/policy_builtin.o: APP_CFLAGS += -DBULWARK_POLICY_FILE='"$(abspath $(POLICY))"'
$(B)/obj/app/policy_builtin.o: $(POLICY)

APP_SRCS := $(shell find app -name '*.c' 2>/dev/null | sort)
APP_OBJS := $(APP_SRCS:%.c=$(B)/obj/%.o)

# crypto reads key files through the ground-level secrets reader
CRYPTO_OBJS := $(filter $(B)/obj/app/crypto/%,$(APP_OBJS)) $(B)/obj/app/secrets.o
RATELIMIT_OBJS := $(filter $(B)/obj/app/ratelimit/%,$(APP_OBJS))
TEST_BINS := $(if $(wildcard tests/unit/jwt_tool_main.c),$(B)/tests/jwt_tool) \
    $(if $(wildcard tests/unit/ratelimit_test_main.c),$(B)/tests/ratelimit_test_main) \
    $(if $(wildcard tests/unit/seccomp_test_main.c),$(B)/tests/seccomp_test_main) \
    $(if $(wildcard tests/unit/jansson_seed_main.c),$(B)/tests/jansson_seed_main)

binaries: $(B)/bin/bulwark $(B)/bin/mkdemo $(TEST_BINS) $(B)/bench/bulwark-bare

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC  $<"
	@$(CC) $(APP_CFLAGS) -c $< -o $@

# PID 1 names the syscall that broke the seccomp allow-list: the x86-64 names
# come from musl's own syscall numbers (the sanitizer build, which has no
# musl sysroot, passes the kernel's list as SYSCALL_H).
SYSCALL_H ?= $(B)/sysroot/include/bits/syscall.h
$(GEN_DIR)/syscall_names.h: $(SYSCALL_H)
	@mkdir -p $(dir $@)
	@awk '$$1 == "#define" && $$2 ~ /^__NR_/ && $$3 ~ /^[0-9]+$$/ \
	    { printf "[%s] = \"%s\",\n", $$3, substr($$2, 6) }' $< >$@.tmp && mv $@.tmp $@
$(B)/obj/app/init/seccomp.o: $(GEN_DIR)/syscall_names.h
$(B)/obj/app/init/seccomp.o: APP_CFLAGS += -I$(GEN_DIR)

# app/init/ (and only it) uses the kernel's UAPI headers (seccomp, BPF,
# capabilities): musl ships none, so they come from Debian's linux-libc-dev,
# linked into a folder of their own so that no glibc header is on the path.
$(UAPI_DIR)/.done:
	@mkdir -p $(UAPI_DIR)
	@for d in /usr/include/linux /usr/include/asm-generic /usr/include/$$(gcc -print-multiarch)/asm; do \
	    [ -d $$d ] || { echo "missing $$d: install linux-libc-dev" >&2; exit 1; }; \
	    ln -sfn $$d $(UAPI_DIR)/$$(basename $$d); done
	@touch $@
$(filter $(B)/obj/app/init/%,$(APP_OBJS)): $(UAPI_DIR)/.done
$(filter $(B)/obj/app/init/%,$(APP_OBJS)): APP_CFLAGS += -idirafter $(UAPI_DIR)

# app/ as an archive: the link takes only what main.o reaches, so a layer
# that is written but not wired yet cannot break the binary.
APP_LIB := $(B)/obj/libbulwark-app.a

$(APP_LIB): $(filter-out $(B)/obj/app/main.o,$(APP_OBJS))
	@rm -f $@
	@ar rcsD $@ $^

$(B)/bin/bulwark: $(B)/obj/app/main.o $(APP_LIB) $(LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(HARDEN_CFLAGS) -pthread -o $@ $(B)/obj/app/main.o $(APP_LIB) $(LIBS)

$(B)/bin/mkdemo: $(B)/obj/image/demo/mkdemo.o $(LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(HARDEN_CFLAGS) -o $@ $< $(DEPS_DIR)/mbedtls/lib/libmbedx509.a \
	    $(DEPS_DIR)/mbedtls/lib/libmbedcrypto.a

# Test drivers: small programs that exercise one layer of app/ on its own.
$(B)/tests/jwt_tool: $(B)/obj/tests/unit/jwt_tool_main.o $(CRYPTO_OBJS) $(LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(HARDEN_CFLAGS) -o $@ $< $(CRYPTO_OBJS) $(DEPS_DIR)/mbedtls/lib/libmbedx509.a \
	    $(DEPS_DIR)/mbedtls/lib/libmbedcrypto.a $(DEPS_DIR)/jansson/lib/libjansson.a

$(B)/tests/ratelimit_test_main: $(B)/obj/tests/unit/ratelimit_test_main.o $(RATELIMIT_OBJS) $(LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(HARDEN_CFLAGS) -pthread -o $@ $< $(RATELIMIT_OBJS) $(LIBS)

$(B)/obj/tests/unit/seccomp_test_main.o: $(UAPI_DIR)/.done
$(B)/tests/seccomp_test_main: $(B)/obj/tests/unit/seccomp_test_main.o $(APP_LIB) $(LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(HARDEN_CFLAGS) -pthread -o $@ $< $(APP_LIB) $(LIBS)

# tests/bench/middleware-overhead.sh: the same service without its
# middleware (serve.c built with BULWARK_BENCH_BARE).
$(B)/obj/bench/serve-bare.o: app/serve.c
	@mkdir -p $(dir $@)
	@echo "  CC  $< (bare, for the bench)"
	@$(CC) $(APP_CFLAGS) -DBULWARK_BENCH_BARE -c $< -o $@
$(B)/bench/bulwark-bare: $(B)/obj/app/main.o $(B)/obj/bench/serve-bare.o $(APP_LIB) $(LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(HARDEN_CFLAGS) -pthread -o $@ $(B)/obj/app/main.o $(B)/obj/bench/serve-bare.o $(APP_LIB) $(LIBS)

$(B)/tests/jansson_seed_main: $(B)/obj/tests/unit/jansson_seed_main.o $(LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(HARDEN_CFLAGS) -o $@ $< $(DEPS_DIR)/jansson/lib/libjansson.a


# --- libFuzzer targets (tests/fuzz/; tests/sanitize/build.sh fuzz makes them
# with B=build/sanitize and clang's sanitizer flags in HARDEN_CFLAGS) ---

FUZZ_TARGETS := policy jwt json_schema client_addr http1 http2
FUZZ_OBJ := $(B)/obj/tests/fuzz
FUZZ_BIN := $(B)/fuzz
fuzz-targets: $(FUZZ_TARGETS:%=$(FUZZ_BIN)/fuzz_%)
# kept between builds (make would delete them as intermediate files)
.SECONDARY: $(FUZZ_TARGETS:%=$(FUZZ_OBJ)/fuzz_%.o) $(FUZZ_OBJ)/fuzz_key.o $(FUZZ_OBJ)/http_harness.o

$(FUZZ_OBJ)/%.o: APP_CFLAGS += -DBULWARK_FUZZ_DIR='"$(abspath tests/fuzz)"'

$(FUZZ_BIN)/fuzz_%: $(FUZZ_OBJ)/fuzz_%.o $(FUZZ_OBJ)/fuzz_key.o $(APP_LIB) $(LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(HARDEN_CFLAGS) -fsanitize=fuzzer -pthread -o $@ $< $(FUZZ_OBJ)/fuzz_key.o $(APP_LIB) $(LIBS)

# The HTTP targets run the whole service: app/serve.c is compiled into the
# harness; PBKDF2 is replaced there (http_harness.c says why).
FUZZ_HTTP_WRAP := -Wl,--wrap=bulwark_password_check -Wl,--wrap=bulwark_password_dummy_verify
$(FUZZ_BIN)/fuzz_http%: $(FUZZ_OBJ)/fuzz_http%.o $(FUZZ_OBJ)/http_harness.o $(FUZZ_OBJ)/fuzz_key.o $(APP_LIB) $(LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD  $@"
	@$(CC) $(HARDEN_CFLAGS) -fsanitize=fuzzer -pthread $(FUZZ_HTTP_WRAP) -o $@ $< $(FUZZ_OBJ)/http_harness.o \
	    $(FUZZ_OBJ)/fuzz_key.o $(APP_LIB) $(LIBS)

-include $(APP_OBJS:.o=.d) $(B)/obj/image/demo/mkdemo.d $(wildcard $(FUZZ_OBJ)/*.d)
