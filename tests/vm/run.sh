#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# vmtest: synscope's second kernel. Runs the end-to-end tests inside a QEMU
# (TCG) VM booting Debian bookworm's 6.1 cloud kernel from an initramfs, and
# checks the accept path on both kernels: fexit/inet_csk_accept in the VM,
# and on this host the path build/fexit-probe finds the kernel allows (the
# syscall-tracepoint fallback where fexit gets EPERM, fexit on stock kernels).
#
# Usage (root):  tests/vm/run.sh [TEST-NAME-SUBSTRING...]   (`make vmtest`)
# The substrings select e2e tests as for tests/e2e/run.py; the accept-path
# tests always run. Exit status 0 only when everything passed: a failure, a
# skipped test, a VM that does not boot or does not finish all count as
# failures.
#
# Steps: install missing packages (apt-get) -> accept-path test on the host ->
# fetch the kernel into the cache (kernel.sh) -> build the initramfs
# (mkinitramfs.sh) -> boot it and read the results (boot.py).
#
# Environment:
#   OUTPUT                    build directory (default: build, as in the Makefile)
#   VMTEST_DIR                work/cache directory (default: $OUTPUT/vm)
#   VMTEST_TIMEOUT            seconds before QEMU is killed (default 900)
#   VMTEST_HOST_ACCEPT_HOOK   path the host must get: probe (default: what
#                             build/fexit-probe finds), fexit, syscall, or none
#                             to skip the host check
#   VMTEST_VM_ACCEPT_HOOK     path the VM must get (default fexit)
#   VMTEST_KERNEL_PKG         pin the kernel package (see kernel.sh)
#   VMTEST_COMPRESS           initramfs compression: none (default), gzip, zstd
#   VMTEST_RUN                debugging: a shell command run in the VM instead
#                             of the tests, e.g. VMTEST_RUN='ss -ltn; dmesg | tail'
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
case ${OUTPUT:-build} in
/*) BUILD=${OUTPUT} ;;
*) BUILD=$ROOT/${OUTPUT:-build} ;;
esac
VM_DIR=${VMTEST_DIR:-$BUILD/vm}
TIMEOUT=${VMTEST_TIMEOUT:-900}
HOST_HOOK=${VMTEST_HOST_ACCEPT_HOOK:-probe}
VM_HOOK=${VMTEST_VM_ACCEPT_HOOK:-fexit}
PY=/usr/bin/python3 # Debian's python, not whatever shim comes first in PATH

say() { echo "vmtest: $*"; }
die() { echo "vmtest: FAIL: $*" >&2; exit 1; }
now() { date +%s; }

t0=$(now)

# ---- 1. host packages -------------------------------------------------------------
# package:file-it-provides; asks dpkg first, calls apt-get only for what is missing.
# Kernel images are not installed: kernel.sh downloads and unpacks one.
NEED="qemu-system-x86:/usr/bin/qemu-system-x86_64 busybox-static:/bin/busybox cpio:/usr/bin/cpio
python3:/usr/bin/python3 iproute2:/usr/bin/ss util-linux:/usr/bin/setpriv tcpdump:/usr/bin/tcpdump
zstd:/usr/bin/zstd"
missing=
for entry in $NEED; do
	pkg=${entry%%:*}
	file=${entry#*:}
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || [ ! -e "$file" ]; then
		missing="$missing $pkg"
	fi
done
# shellcheck disable=SC2086  # $missing is a list of package names
if [ -n "$missing" ]; then
	[ "$(id -u)" = 0 ] || die "missing packages:$missing; run as root (sudo make vmtest)"
	say "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $missing; } ||
		die "apt-get install$missing failed"
fi
[ "$(id -u)" = 0 ] || die "run as root: the tests load BPF programs (sudo make vmtest)"
for prog in synscope demo-server demo-client uring-server loadgen fexit-probe; do
	[ -x "$BUILD/$prog" ] || die "$BUILD/$prog is not built; run 'make'"
done
mkdir -p "$VM_DIR"

# ---- 2. the accept path on this host ----------------------------------------------
# prefixed RC_FILE PREFIX CMD...: runs CMD with its output prefixed, and
# writes its exit status to RC_FILE (POSIX sh has no PIPESTATUS).
prefixed() {
	rc_file=$1 prefix=$2
	shift 2
	{ "$@" 2>&1; echo $? > "$rc_file"; } | sed "s/^/$prefix/"
	return "$(cat "$rc_file")"
}

host_rc=0
if [ "$HOST_HOOK" != none ]; then
	pin=$HOST_HOOK
	[ "$HOST_HOOK" != probe ] || pin=
	say "host kernel $(uname -r): accept-path tests, expecting '$HOST_HOOK'"
	t=$(now)
	prefixed "$VM_DIR/.host.rc" "host| " env SYNSCOPE_EXPECT_ACCEPT_HOOK="$pin" \
		OUTPUT="$BUILD" "$PY" "$HERE/test_accept_path.py" || host_rc=$?
	say "host accept-path tests: rc=$host_rc ($(($(now) - t))s)"
fi

# ---- 3. the kernel (cached) ------------------------------------------------------------
t=$(now)
KROOT=$(sh "$HERE/kernel.sh" "$VM_DIR") || die "no kernel for the VM"
KERNEL=$(ls -1 "$KROOT"/boot/vmlinuz-* | head -n 1)
t_kernel=$(($(now) - t))

# ---- 4. the initramfs (rebuilt every run: binaries and tests change) ----------------------
t=$(now)
INITRD=$(sh "$HERE/mkinitramfs.sh" "$ROOT" "$BUILD" "$VM_DIR" "$KROOT" "$VM_HOOK" "$@") ||
	die "could not build the initramfs"
t_initrd=$(($(now) - t))

# ---- 5. boot, run, report ----------------------------------------------------------------
say "booting ${KERNEL##*/} ($(cat "$KROOT/VERSION" 2>/dev/null || echo '?')) under qemu TCG," \
	"expecting accept path '$VM_HOOK'; timeout ${TIMEOUT}s"
t=$(now)
vm_rc=0
"$PY" "$HERE/boot.py" --kernel "$KERNEL" --initrd "$INITRD" --log "$VM_DIR/console.log" \
	--timeout "$TIMEOUT" || vm_rc=$?
t_vm=$(($(now) - t))

say "times: kernel ${t_kernel}s, initramfs ${t_initrd}s, VM ${t_vm}s, total $(($(now) - t0))s"
if [ "$host_rc" -ne 0 ] || [ "$vm_rc" -ne 0 ]; then
	say "FAILED: host accept path rc=$host_rc, VM rc=$vm_rc (console log: $VM_DIR/console.log)"
	exit 1
fi
say "passed: host accept path '$HOST_HOOK', VM $(basename "$KERNEL" | sed 's/^vmlinuz-//')" \
	"e2e + accept path '$VM_HOOK'"
