#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Builds the vmtest initramfs: a cpio (newc) archive holding
#   - busybox-static and its applet links (the shell, mount, poweroff, ...);
#   - the real tools the tests call, which busybox's applets do not replace:
#     iproute2's ip and ss, util-linux's setpriv, tcpdump, curl, bpftool, python3, and the
#     host's /bin/sh (dash);
#   - build/synscope, build/demo-server, build/demo-client, build/uring-server, build/loadgen
#     and build/fexit-probe
#     (e2e helpers), as /synscope/build;
#   - every shared library those need (resolved with ldd);
#   - python3's standard library, trimmed (tests, IDLE, tkinter, lib2to3,
#     ensurepip, pydoc data, the static libpython, optimized .pyc, unused
#     extension modules), with the bytecode kept so the VM compiles nothing;
#   - tests/e2e and tests/vm as /synscope/tests, tests/vm/init as /init, and
#     /vmtest.env with the settings init reads.
#
#   - the kernel modules the tools need that the cloud kernel has as modules
#     (sock_diag for `ss`: inet_diag, tcp_diag, ...; veth for the demo's
#     router scenarios), with their dependencies, loaded by init with insmod.
#
# Usage: mkinitramfs.sh ROOT BUILD VM_DIR KERNEL_ROOT EXPECT_HOOK [FILTER...]
#   ROOT         the synscope tree
#   BUILD        its build directory (synscope, demo-server, demo-client)
#   VM_DIR       work directory; the image is VM_DIR/initramfs.cpio[.gz|.zst]
#   KERNEL_ROOT  the unpacked kernel package (kernel.sh's output)
#   EXPECT_HOOK  accept path the VM's kernel must get: fexit or syscall
#   FILTER       test name substrings passed to tests/e2e/run.py
# Prints the image's path on stdout.
#
# Environment: VMTEST_COMPRESS=none|gzip|zstd (default none: under TCG the
# kernel unpacks an uncompressed archive fastest, see tests/vm/README.md);
# VMTEST_RUN='shell command' runs that in the VM instead of the test suites
# (for debugging; its exit status is the result).
set -eu

ROOT=${1:?usage: mkinitramfs.sh ROOT BUILD VM_DIR KERNEL_ROOT EXPECT_HOOK [FILTER...]}
BUILD=${2:?}
VM_DIR=${3:?}
KERNEL_ROOT=${4:?}
EXPECT_HOOK=${5:?}
shift 5
# Modules to load in the VM (their dependencies are added): the socket
# diagnostics `ss` reads listeners and queues through (without them it falls
# back to /proc/net/tcp, which has no backlog: Send-Q would read 0), veth
# for `synscope demo timeout|unreachable` (client and router namespaces), and
# the clsact qdisc and cls_bpf for `synscope demo lost-ack` (a tc BPF filter).
MODULES="tcp_diag udp_diag raw_diag unix_diag af_packet_diag netlink_diag veth sch_ingress cls_bpf"
COMPRESS=${VMTEST_COMPRESS:-none}
PYVER=3.11

say() { echo "vmtest: $*" >&2; }
die() { say "$*"; exit 1; }

case $EXPECT_HOOK in fexit|syscall) ;; *) die "EXPECT_HOOK must be fexit or syscall" ;; esac
for f in "$@"; do
	case $f in *[!A-Za-z0-9_.-]*|'') die "bad test filter '$f' (letters, digits, _ . - only)" ;; esac
done

STAGE="$VM_DIR/initramfs.d"
rm -rf "$STAGE"
mkdir -p "$STAGE"

# ---- layout: merged /usr, as on the host, so host paths can be reused ------
(
	cd "$STAGE"
	mkdir -p usr/bin usr/sbin usr/lib usr/lib64 etc root proc sys dev run tmp var \
		synscope/build synscope/tests
	ln -s usr/bin bin
	ln -s usr/sbin sbin
	ln -s usr/lib lib
	ln -s usr/lib64 lib64
	ln -s ../run var/run # iproute2 keeps namespaces in /var/run/netns
	chmod 1777 tmp
	chmod 0700 root
)
# The console, in case init's first mount fails (the kernel's built-in
# initramfs provides one too). Needs root; harmless to skip otherwise.
mknod -m 600 "$STAGE/dev/console" c 5 1 2>/dev/null || true

# ---- copying an ELF file and the shared libraries it needs -------------------
# copy_libs FILE: every library ldd resolves for FILE, at the same path.
copy_libs() {
	ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
	while read -r lib; do
		if [ -e "$STAGE$lib" ]; then continue; fi
		mkdir -p "$STAGE${lib%/*}"
		cp -L "$lib" "$STAGE$lib"
	done
	if ldd "$1" 2>/dev/null | grep -q 'not found'; then
		die "$1: $(ldd "$1" | grep 'not found' | tr -s ' \t' ' ')"
	fi
}

# copy_elf SRC DEST: the file (symlinks resolved) and its libraries.
copy_elf() {
	mkdir -p "$STAGE${2%/*}"
	cp -L "$1" "$STAGE$2"
	copy_libs "$1"
}

# ---- busybox ------------------------------------------------------------------
BUSYBOX=/bin/busybox # busybox-static's path (a static binary: no libraries)
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
	ldd "$BUSYBOX" 2>&1 | grep -q 'not a dynamic executable' ||
	die "$BUSYBOX is not busybox-static's static binary"
cp "$BUSYBOX" "$STAGE/usr/bin/busybox"
"$BUSYBOX" --list-full | while read -r applet; do
	case $applet in
	bin/*) link=usr/$applet ;;
	sbin/*) link=usr/$applet ;;
	usr/*) link=$applet ;;
	*) continue ;; # linuxrc
	esac
	[ -e "$STAGE/$link" ] || ln -s /usr/bin/busybox "$STAGE/$link"
done

# ---- real tools (they replace busybox's applets of the same name) --------------
# The tests call iproute2's `ip netns` (busybox's ip has no netns), util-linux's
# setpriv, iproute2's ss, tcpdump, curl (a real client), bpftool (to read synscope's maps),
# and Debian's prometheus and promtool (test_metrics.py: a real Prometheus scrapes synscope).
# A tool missing on the host is reported:
# the tests that call it will then fail in the VM, visibly.
for tool in ip ss setpriv tcpdump curl bpftool prometheus promtool; do
	path=$(command -v "$tool" 2>/dev/null || true)
	case $path in
	/*) ;;
	*) say "warning: $tool not found on the host; tests calling it will fail in the VM"; continue ;;
	esac
	rm -f "$STAGE/usr/bin/$tool" "$STAGE/usr/sbin/$tool"
	copy_elf "$path" "$path"
done

# The host's /bin/sh (dash on Debian) as /bin/sh: busybox's ash runs its own
# applets before PATH (so `sh -c 'ip netns ...'` would get busybox's ip);
# dash, like on the host, runs what PATH finds.
SH=$(readlink -f /bin/sh)
case $SH in
*/busybox) say "warning: the host's /bin/sh is busybox; keeping busybox sh" ;;
*) rm -f "$STAGE/usr/bin/sh" && copy_elf "$SH" "$SH" && ln -sf "$SH" "$STAGE/usr/bin/sh" ;;
esac

# ---- python3 and its standard library --------------------------------------
PY=/usr/bin/python$PYVER # Debian's, not a pyenv shim that may be first in PATH
[ -x "$PY" ] || die "$PY missing (apt-get install python3)"
copy_elf "$PY" "$PY"
ln -sf "python$PYVER" "$STAGE/usr/bin/python3"
# Packages and files the tests never import, and the 25 MB static libpython.
tar -C /usr/lib -cf - \
	--exclude="python$PYVER/test" --exclude="python$PYVER/idlelib" \
	--exclude="python$PYVER/tkinter" --exclude="python$PYVER/turtledemo" \
	--exclude="python$PYVER/ensurepip" --exclude="python$PYVER/lib2to3" \
	--exclude="python$PYVER/pydoc_data" --exclude="python$PYVER/distutils" \
	--exclude="python$PYVER/config-$PYVER-*" --exclude="python$PYVER/site-packages" \
	--exclude="python$PYVER/dist-packages" --exclude="python$PYVER/venv" \
	--exclude='*.opt-1.pyc' --exclude='*.opt-2.pyc' \
	--exclude='_test*.so' --exclude='_ctypes_test*.so' --exclude='_xxtestfuzz*.so' \
	--exclude='xxlimited*.so' --exclude='_xxsubinterpreters*.so' --exclude='_tkinter*.so' \
	--exclude='_curses*.so' --exclude='readline*.so' --exclude='_dbm*.so' \
	--exclude='_gdbm*.so' --exclude='nis*.so' --exclude='ossaudiodev*.so' \
	--exclude='_sqlite3*.so' --exclude='_crypt*.so' \
	"python$PYVER" | tar -C "$STAGE/usr/lib" -xf -
for so in "$STAGE/usr/lib/python$PYVER/lib-dynload"/*.so; do
	copy_libs "$so"
done
# Debian's python3-jsonschema and what it imports (test_pictures.py validates
# the trace-event output against tests/schema).
DIST=/usr/lib/python3/dist-packages
for pkg in jsonschema attr attrs pyrsistent _pyrsistent_version.py pvectorc; do
	for p in "$DIST"/$pkg "$DIST"/$pkg.*.so "$DIST"/$pkg-*-info; do
		[ -e "$p" ] || continue
		mkdir -p "$STAGE$DIST"
		cp -a "$p" "$STAGE$DIST/"
	done
done
[ -d "$STAGE$DIST/jsonschema" ] || say "warning: python3-jsonschema not found on the host; test_pictures will fail in the VM"

# ---- synscope -----------------------------------------------------------------
for prog in synscope demo-server demo-client uring-server loadgen fexit-probe; do
	[ -x "$BUILD/$prog" ] || die "$BUILD/$prog is not built; run 'make'"
	copy_elf "$BUILD/$prog" "/synscope/build/$prog"
done
for dir in e2e vm schema; do
	mkdir -p "$STAGE/synscope/tests/$dir"
	for f in "$ROOT/tests/$dir"/*.py "$ROOT/tests/$dir"/*.json; do
		if [ -e "$f" ]; then cp "$f" "$STAGE/synscope/tests/$dir/"; fi
	done
done

# ---- kernel modules ------------------------------------------------------------
# The cloud kernel has BTF, BPF, tracefs, network namespaces, IPv6, AF_PACKET
# and the serial console built in; the sock_diag family and veth are modules.
# No modinfo/depmod needed: a module's dependencies are in its .modinfo
# section ("depends=a,b"). load.list gets them in load order.
KREL=$(ls -1 "$KERNEL_ROOT/lib/modules" | head -n 1)
KMOD="$KERNEL_ROOT/lib/modules/$KREL"
mkdir -p "$STAGE/lib/modules"
: > "$STAGE/lib/modules/load.list"
module_file() { # module_file NAME: its .ko (file names use - or _)
	find "$KMOD/kernel" \( -name "$1.ko" -o -name "$(echo "$1" | tr _ -).ko" \) | head -n 1
}
add_module() { # add_module NAME: its dependencies first, then NAME itself
	if grep -qx "$1" "$STAGE/lib/modules/load.list"; then return 0; fi
	[ -n "$(module_file "$1")" ] || die "module $1 not found in $KMOD"
	for dep in $(tr '\0' '\n' < "$(module_file "$1")" | sed -n 's/^depends=//p' | tr ',' ' '); do
		add_module "$dep"
	done
	cp "$(module_file "$1")" "$STAGE/lib/modules/$1.ko"
	echo "$1" >> "$STAGE/lib/modules/load.list"
}
for m in $MODULES; do
	add_module "$m"
done

# ---- configuration files --------------------------------------------------------
# The host's system accounts (uid < 1000, and nobody): setpriv runs as
# nobody/nogroup, tcpdump -r drops to user tcpdump. No personal accounts.
awk -F: '$3 < 1000 || $3 == 65534' /etc/passwd > "$STAGE/etc/passwd"
awk -F: '$3 < 1000 || $3 == 65534' /etc/group > "$STAGE/etc/group"
grep -q '^root:' "$STAGE/etc/passwd" || echo 'root:x:0:0:root:/root:/bin/sh' >> "$STAGE/etc/passwd"
grep -q '^root:' "$STAGE/etc/group" || echo 'root:x:0:' >> "$STAGE/etc/group"
cat > "$STAGE/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files
EOF
cat > "$STAGE/etc/hosts" <<'EOF'
127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
EOF
for f in protocols services; do
	[ -r "/etc/$f" ] && cp "/etc/$f" "$STAGE/etc/$f"
done
{
	echo "VMTEST_FILTER='$*'"
	echo "SYNSCOPE_EXPECT_ACCEPT_HOOK=$EXPECT_HOOK"
	# Single-quoted for init's `.`; a ' inside is written as '\''.
	printf "VMTEST_RUN='%s'\n" "$(printf '%s' "${VMTEST_RUN:-}" | sed "s/'/'\\\\''/g")"
} > "$STAGE/vmtest.env"
cp "$ROOT/tests/vm/init" "$STAGE/init"
chmod 0755 "$STAGE/init"

# ---- the archive -------------------------------------------------------------------
rm -f "$VM_DIR"/initramfs.cpio "$VM_DIR"/initramfs.cpio.gz "$VM_DIR"/initramfs.cpio.zst
case $COMPRESS in
none) out="$VM_DIR/initramfs.cpio"; filter="cat" ;;
gzip) out="$VM_DIR/initramfs.cpio.gz"; filter="gzip -1 -n" ;;
zstd) out="$VM_DIR/initramfs.cpio.zst"; filter="zstd -q -3 -T0" ;;
*) die "VMTEST_COMPRESS must be none, gzip or zstd" ;;
esac
# Sorted, owned by root whoever builds it.
(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	$filter > "$out.tmp"
mv "$out.tmp" "$out"
say "initramfs: $out ($(du -h "$out" | cut -f1), $(du -sh "$STAGE" | cut -f1) unpacked)"
echo "$out"
