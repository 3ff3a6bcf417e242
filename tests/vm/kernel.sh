#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Fetches the VM's kernel without installing it: Debian bookworm's cloud
# kernel (linux-image-cloud-amd64, 6.1), downloaded with `apt-get download`
# and unpacked with `dpkg-deb -x` into a cache under $VM_DIR/kernel/. The
# host's /boot, its bootloader and dpkg's database are never touched.
#
# Usage: kernel.sh VM_DIR
# Prints the path of the unpacked package's root on stdout (it holds
# boot/vmlinuz-<release> and lib/modules/<release>/); messages go to stderr.
#
# Environment: VMTEST_KERNEL_PKG=linux-image-6.1.0-NN-cloud-amd64 pins the
# package instead of resolving the meta-package (offline reruns use the cache).
set -eu

VM_DIR=${1:?usage: kernel.sh VM_DIR}
META=linux-image-cloud-amd64

say() { echo "vmtest: $*" >&2; }

# The meta-package depends on exactly one versioned image package, e.g.
# linux-image-6.1.0-56-cloud-amd64; apt-cache answers from the local lists.
pkg=${VMTEST_KERNEL_PKG:-}
if [ -z "$pkg" ]; then
	pkg=$(apt-cache depends "$META" 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n 1)
fi
if [ -z "$pkg" ]; then
	# No apt lists (or no such package): fall back to the newest cached kernel.
	pkg=$(ls -1d "$VM_DIR"/kernel/linux-image-*-cloud-amd64 2>/dev/null | sort -V | tail -n 1)
	pkg=${pkg##*/}
	[ -n "$pkg" ] || { say "cannot resolve $META (run 'apt-get update') and no cached kernel"; exit 1; }
	say "apt-cache cannot resolve $META; using cached $pkg"
fi

dest="$VM_DIR/kernel/$pkg"
release=${pkg#linux-image-}
if [ -r "$dest/boot/vmlinuz-$release" ]; then
	say "kernel $release: cached in $dest"
	echo "$dest"
	exit 0
fi

say "kernel $release: downloading $pkg (apt-get download, not installed)"
tmp="$VM_DIR/kernel/.dl.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
# apt-get download writes into the current directory; as root apt warns that
# the _apt user cannot write there (harmless), so make the directory readable.
chmod 0777 "$tmp"
(cd "$tmp" && apt-get download -q "$pkg" >&2)
deb=$(ls -1 "$tmp"/*.deb | head -n 1)
mkdir -p "$tmp/root"
dpkg-deb -x "$deb" "$tmp/root"
[ -r "$tmp/root/boot/vmlinuz-$release" ] || { say "$deb has no boot/vmlinuz-$release"; exit 1; }
# Keep the .deb's version beside the tree, for the report.
dpkg-deb -f "$deb" Version > "$tmp/root/VERSION"
rm -rf "$dest"
mv "$tmp/root" "$dest"
say "kernel $release ($(cat "$dest/VERSION")): unpacked into $dest"
echo "$dest"
