# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# synscope: build, dependencies, vmlinux.h, tests, demo.  `make help` lists targets.

OUTPUT ?= build
CLANG ?= clang
CC ?= gcc
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
PKG_CONFIG ?= pkg-config
ARCH ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' \
	-e 's/s390x/s390/' -e 's/riscv64/riscv/' -e 's/loongarch64/loongarch/')

OBJ := $(OUTPUT)/obj
VMLINUX := vmlinux/vmlinux.h

# Debian/Ubuntu packages needed to build and test.
DEPS_PKGS := make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config \
	libjson-c-dev libcmocka-dev libmicrohttpd-dev iproute2 python3 tcpdump curl liburing-dev \
	prometheus yamllint help2man man-db systemd chromium python3-jsonschema

LIBS_PKG := libbpf json-c libmicrohttpd
USER_CFLAGS := -g -O2 -Wall -Wextra -Werror -std=gnu11 -I$(OBJ) -Ibpf -Iuser \
	$(shell $(PKG_CONFIG) --cflags $(LIBS_PKG) 2>/dev/null) $(EXTRA_CFLAGS)
USER_LDLIBS := $(shell $(PKG_CONFIG) --libs $(LIBS_PKG) 2>/dev/null || echo -lbpf -lelf -lz -ljson-c -lmicrohttpd) -lm
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Wextra -Werror \
	-Wno-unused-parameter -Ivmlinux -Ibpf

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.PHONY: all deps build vmlinux test check test-rules test-install test-unit test-e2e test-asan fuzz vmtest stress demo bench bench-sinks install clean help

all: deps
	@$(MAKE) --no-print-directory build

# The loader and its parts; one concern a file (see README "Layout").
SYNSCOPE_SRCS := synscope.c tracer.c loader.c ringbufs.c options.c probe.c pid_listeners.c netstat.c launch.c demo.c metrics.c metrics_text.c listeners.c lost_ack.c \
	decode.c tracker.c join.c idmap.c summary.c histogram.c output.c output_text.c output_jsonl.c output_timeline.c output_trace_event.c output_html.c ladder.c queue_depth.c \
	capture_write.c capture_read.c replay.c outbuf.c json_writer.c

# Pieces the unit tests link against (no libbpf, no root).
CORE_SRCS := decode.c tracker.c join.c idmap.c summary.c histogram.c netstat.c metrics_text.c output.c output_text.c output_jsonl.c output_timeline.c output_trace_event.c output_html.c ladder.c queue_depth.c \
	capture_write.c capture_read.c replay.c outbuf.c json_writer.c launch.c options.c

PROGRAMS := $(OUTPUT)/synscope $(OUTPUT)/demo-server $(OUTPUT)/demo-client
# Helpers of the end-to-end tests (also copied into the VM image).
E2E_HELPERS := $(OUTPUT)/uring-server $(OUTPUT)/loadgen $(OUTPUT)/fexit-probe
UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(wildcard tests/unit/test_*.c))

build: $(PROGRAMS) $(UNIT_TESTS) $(E2E_HELPERS)

# ---- dependencies -------------------------------------------------------
# Idempotent and fast when all is there: asks dpkg, calls apt-get only for
# what is missing.
deps:
	@if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then \
		echo "synscope: 'make deps' supports Debian and Ubuntu (apt). On this system install:" >&2; \
		echo "  $(DEPS_PKGS)" >&2; \
		echo "  (clang, libbpf >= 1.0 headers, bpftool, libelf, zlib, json-c, cmocka), then run 'make build'." >&2; \
		exit 1; \
	fi; \
	missing=; for p in $(DEPS_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "synscope: missing packages:$$missing; run 'sudo make deps'" >&2; exit 1; \
		fi; \
		echo "  DEPS     installing$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $$missing; } || \
		{ echo "synscope: apt-get install$$missing failed" >&2; exit 1; }; \
	fi

# ---- vmlinux.h ------------------------------------------------------------
vmlinux:
	@test -r /sys/kernel/btf/vmlinux || { echo "synscope: /sys/kernel/btf/vmlinux missing: this kernel has no BTF (CONFIG_DEBUG_INFO_BTF=y needed)" >&2; exit 1; }
	$(call msg,GEN,$(VMLINUX))
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX).tmp && mv $(VMLINUX).tmp $(VMLINUX)

# ---- BPF side ---------------------------------------------------------------
$(OBJ) $(OBJ)/user $(OUTPUT)/tests:
	$(Q)mkdir -p $@

$(OBJ)/%.tmp.bpf.o: bpf/%.bpf.c $(VMLINUX) | $(OBJ)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(OBJ)/%.bpf.o: $(OBJ)/%.tmp.bpf.o
	$(call msg,GEN-OBJ,$@)
	$(Q)$(BPFTOOL) gen object $@ $<

$(OBJ)/%.skel.h: $(OBJ)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# ---- user side --------------------------------------------------------------
$(OBJ)/user/%.o: user/%.c | $(OBJ)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -MMD -MP -c $< -o $@

# These include the skeleton.
$(OBJ)/user/tracer.o $(OBJ)/user/loader.o $(OBJ)/user/ringbufs.o $(OBJ)/user/metrics.o $(OBJ)/user/listeners.o: $(OBJ)/synscope.skel.h
$(OBJ)/user/lost_ack.o: $(OBJ)/lost_ack.skel.h

$(OUTPUT)/synscope: $(addprefix $(OBJ)/user/,$(SYNSCOPE_SRCS:.c=.o))
	$(call msg,LINK,$@)
	$(Q)$(CC) $(USER_CFLAGS) $^ $(USER_LDLIBS) -o $@

$(OUTPUT)/demo-%: $(OBJ)/user/demo_%.o
	$(call msg,LINK,$@)
	$(Q)$(CC) $(USER_CFLAGS) $^ -o $@

# ---- tests ---------------------------------------------------------------------
$(OBJ)/tests/%.o: tests/unit/%.c | $(OBJ)/user
	$(Q)mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/tests/%: $(OBJ)/tests/%.o $(addprefix $(OBJ)/user/,$(CORE_SRCS:.c=.o)) | $(OUTPUT)/tests
	$(call msg,LINK,$@)
	$(Q)$(CC) $(USER_CFLAGS) $^ $(USER_LDLIBS) -lcmocka -o $@

# Unit tests: no root needed.
check test-unit: deps
	@$(MAKE) --no-print-directory build
	@set -e; for t in $(UNIT_TESTS); do echo "  UNIT     $$t"; $$t; done

# End-to-end tests: root, private network namespaces, real kernel.
test-e2e: deps
	@$(MAKE) --no-print-directory build
	@python3 tests/e2e/run.py

# The user side built with AddressSanitizer and UndefinedBehaviorSanitizer,
# its unit and end-to-end tests run against that build.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
test-asan: deps
	@$(MAKE) --no-print-directory OUTPUT=$(OUTPUT)/asan EXTRA_CFLAGS="$(SAN_FLAGS)" build
	@set -e; export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1; \
	for t in $(patsubst $(OUTPUT)/%,$(OUTPUT)/asan/%,$(UNIT_TESTS)); do echo "  UNIT     $$t"; $$t; done; \
	OUTPUT=$(abspath $(OUTPUT)/asan) python3 tests/e2e/run.py

# libFuzzer targets for everything that reads outside data: options, ring-buffer
# records, /proc tables. Each runs FUZZ_SECONDS from the seeds in tests/fuzz/corpus/.
FUZZ_TARGETS := options decode proc_tcp netstat capture jsonl
FUZZ_SECONDS ?= 20
FUZZ_SRCS := $(addprefix user/,$(CORE_SRCS) pid_listeners.c)
$(OUTPUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SRCS) $(wildcard user/*.h tests/unit/*.h) bpf/synscope.h
	$(Q)mkdir -p $(@D)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -Ibpf -Iuser \
		$(shell $(PKG_CONFIG) --cflags json-c) $< $(FUZZ_SRCS) $(shell $(PKG_CONFIG) --libs json-c) -o $@

fuzz: deps
	@$(MAKE) --no-print-directory $(addprefix $(OUTPUT)/fuzz/fuzz_,$(FUZZ_TARGETS))
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "  FUZZ     $$t for $(FUZZ_SECONDS)s"; mkdir -p $(OUTPUT)/fuzz/corpus_$$t; \
		$(OUTPUT)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(OUTPUT)/fuzz/crash_$$t- $(OUTPUT)/fuzz/corpus_$$t tests/fuzz/corpus/$$t \
			2>$(OUTPUT)/fuzz/$$t.log || { tail -40 $(OUTPUT)/fuzz/$$t.log; exit 1; }; \
		grep -E 'stat::number_of_executed_units' $(OUTPUT)/fuzz/$$t.log; \
	done

# Second kernel: the e2e tests in a QEMU (TCG) VM booting Debian's 6.1 cloud kernel (root).
vmtest: deps
	@$(MAKE) --no-print-directory build
	@OUTPUT=$(OUTPUT) sh tests/vm/run.sh $(VMTEST_ARGS)

# Overlapping FIN and RST teardown under --close, in bounded runs for up to 2
# minutes: every connection's records exact, nothing lost (root). make test
# runs a short form (tests/e2e/test_stress.py).
stress: deps
	@$(MAKE) --no-print-directory build
	@python3 tests/e2e/stress.py --budget 120

# deploy/: every YAML file linted (the Kubernetes DaemonSet included); the Prometheus rules and
# scrape configuration checked and unit-tested with promtool (Debian's prometheus).
test-rules: deps
	@yamllint -c deploy/.yamllint deploy/
	@promtool check rules deploy/prometheus/synscope.rules.yml
	@cd deploy/prometheus && promtool test rules synscope.rules.test.yml
	@tmp=$$(mktemp -d) && cp deploy/prometheus/scrape.yml deploy/prometheus/synscope.rules.yml $$tmp/ && \
		echo '[]' > $$tmp/nodes.yml && promtool check config $$tmp/scrape.yml; rc=$$?; rm -rf $$tmp; exit $$rc

# Everything; this is the command CI runs.
test: deps
	@$(MAKE) --no-print-directory test-unit
	@$(MAKE) --no-print-directory test-rules
	@$(MAKE) --no-print-directory test-install
	@$(MAKE) --no-print-directory test-e2e
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory fuzz
	@$(MAKE) --no-print-directory vmtest

# liburing linked statically: the VM image then needs no liburing.so.
$(OUTPUT)/uring-server: tests/e2e/uring_server.c | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) $< -l:liburing.a -o $@

# Which accept path the kernel allows, asked without synscope (tests/vm/run.sh).
$(OUTPUT)/fexit-probe: tests/vm/fexit_probe.c | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) $< $(USER_LDLIBS) -o $@

$(OUTPUT)/loadgen: tests/bench/loadgen.c | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(USER_CFLAGS) $< -lpthread -o $@

# Sink CPU time per record, no root, no load generator (tests/bench/sink_bench.c).
$(OUTPUT)/sink_bench: tests/bench/sink_bench.c $(addprefix $(OBJ)/user/,$(CORE_SRCS:.c=.o)) | $(OUTPUT)/tests
	$(call msg,LINK,$@)
	$(Q)$(CC) $(USER_CFLAGS) $^ $(USER_LDLIBS) -o $@

bench-sinks: $(OUTPUT)/sink_bench
	@$(OUTPUT)/sink_bench /dev/null
	@$(OUTPUT)/sink_bench $(OUTPUT)/sink_bench.out && rm -f $(OUTPUT)/sink_bench.out

# Connection rate untraced / with synscope / with libbpf-tools under four loads
# (root; not part of `make test`). BENCH_ARGS: --quick, --loads, --seconds, --soak.
BENCH_PKGS := libbpf-tools nginx apache2-utils
bench: deps
	@$(MAKE) --no-print-directory build $(OUTPUT)/loadgen
	@missing=; for p in $(BENCH_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "  DEPS     installing$$missing"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 || \
		echo "  BENCH    couldn't install$$missing: those rows are skipped"; \
	fi
	@python3 tests/bench/bench.py $(BENCH_ARGS)

# The main job: the bundled pair traced and annotated (root).
demo: deps
	@$(MAKE) --no-print-directory build
	@$(OUTPUT)/synscope demo
	@$(OUTPUT)/synscope demo ipv6

# ---- install ------------------------------------------------------------
PREFIX ?= /usr/local
SBINDIR := $(PREFIX)/sbin
UNITDIR ?= $(PREFIX)/lib/systemd/system

# synscope(8), made by help2man from --help (its options and EXAMPLES) and deploy/synscope.h2m.
$(OUTPUT)/synscope.8: $(OUTPUT)/synscope deploy/synscope.h2m
	$(call msg,MAN,$@)
	$(Q)help2man -N -s 8 -n "watch what the kernel does between connect() and accept()" \
		-i deploy/synscope.h2m -o $@ $(OUTPUT)/synscope

install: build $(OUTPUT)/synscope.8
	install -D -m 0755 $(OUTPUT)/synscope $(DESTDIR)$(SBINDIR)/synscope
	install -D -m 0644 $(OUTPUT)/synscope.8 $(DESTDIR)$(PREFIX)/share/man/man8/synscope.8
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|@SBINDIR@|$(SBINDIR)|g' deploy/systemd/synscope.service.in > $(DESTDIR)$(UNITDIR)/synscope.service
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/synscope/prometheus deploy/prometheus/*.yml

# make install into a scratch DESTDIR (the files; a man page man renders with its EXAMPLES),
# and into a scratch PREFIX (a unit whose ExecStart exists, which systemd-analyze verify
# accepts without a word).
test-install: deps
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	$(MAKE) --no-print-directory install DESTDIR=$$tmp/d PREFIX=/usr >/dev/null && \
	for f in usr/sbin/synscope usr/share/man/man8/synscope.8 usr/lib/systemd/system/synscope.service \
		usr/share/synscope/prometheus/synscope.rules.yml; do \
		test -f $$tmp/d/$$f || { echo "install: $$f missing" >&2; exit 1; }; done && \
	{ MANWIDTH=100 man -l $$tmp/d/usr/share/man/man8/synscope.8 2>&1 | grep -q '^EXAMPLES' || \
		{ echo "install: man -l shows no EXAMPLES section" >&2; exit 1; }; } && \
	$(MAKE) --no-print-directory install PREFIX=$$tmp/p >/dev/null && \
	out=$$(systemd-analyze verify --man=no $$tmp/p/lib/systemd/system/synscope.service 2>&1); \
	if [ $$? -ne 0 ] || [ -n "$$out" ]; then echo "install: systemd-analyze verify: $$out" >&2; exit 1; fi; \
	echo "  INSTALL  files, man page (man -l) and unit (systemd-analyze verify) checked"

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

help:
	@echo "synscope targets:"
	@echo "  make            install dependencies (Debian/Ubuntu) and build into $(OUTPUT)/"
	@echo "  make deps       install missing build/test packages with apt-get"
	@echo "  make vmlinux    regenerate $(VMLINUX) from /sys/kernel/btf/vmlinux"
	@echo "  make demo       run the bundled client/server pair under synscope (root)"
	@echo "  make test       unit tests, then end-to-end tests (root)"
	@echo "  make bench      connection rate untraced vs traced, four loads (root; BENCH_ARGS='--quick')"
	@echo "  make check      unit tests only (no root)"
	@echo "  make bench-sinks  CPU time per record in the JSONL and text sinks (no root)"
	@echo "  make test-e2e   end-to-end tests in private network namespaces (root)"
	@echo "  make test-asan  unit and end-to-end tests against an ASan/UBSan build (root)"
	@echo "  make fuzz       libFuzzer targets, FUZZ_SECONDS each (default 20)"
	@echo "  make vmtest     e2e tests on Debian's 6.1 kernel in a QEMU VM (root; VMTEST_ARGS=test-name filters)"
	@echo "  make stress     overlapping FIN/RST teardown under --close for up to 2 minutes, records exact (root)"
	@echo "  make install    install $(OUTPUT)/synscope to /usr/local/sbin"
	@echo "  make clean      remove $(OUTPUT)/"
	@echo "  V=1             show full commands"

-include $(wildcard $(OBJ)/*.d $(OBJ)/user/*.d $(OBJ)/tests/*.d)
.SECONDARY:
