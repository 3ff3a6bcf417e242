#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Boots the vmtest VM under QEMU (TCG) and reports what its tests printed.

The serial console is written to LOG as it arrives; the lines init prints
between VMTEST-BEGIN and VMTEST-END (the tests' PASS / FAIL / SKIP lines) are
echoed here, prefixed with "vm| ". Exit status: 0 only when the VM printed
"VMTEST-RESULT: rc=0"; 1 when it printed another rc, did not boot, did not
finish within the time limits, or QEMU failed.

Usage: boot.py --kernel VMLINUZ --initrd INITRAMFS --log LOG
               [--timeout SECONDS] [--boot-timeout SECONDS]
"""
import argparse
import os
import re
import select
import subprocess
import sys
import time

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1bc")
RESULT = re.compile(r"^VMTEST-RESULT: rc=(\d+)(.*)$")
TEST_LINE = re.compile(r"^(PASS|FAIL|SKIP) ")


def qemu_argv(kernel, initrd):
    # As given in DESIGN.md: KVM does not work on the test host, TCG does.
    return ["qemu-system-x86_64", "-accel", "tcg,thread=multi", "-cpu", "max", "-m", "1024",
            "-smp", "2", "-nographic", "-no-reboot", "-kernel", kernel, "-initrd", initrd,
            "-append", "console=ttyS0 quiet panic=-1 rdinit=/init"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--timeout", type=float, default=900,
                    help="kill QEMU after this many seconds (default 900)")
    ap.add_argument("--boot-timeout", type=float, default=180,
                    help="fail if init has not started the tests by then (default 180)")
    args = ap.parse_args()

    argv = qemu_argv(args.kernel, args.initrd)
    start = time.monotonic()
    log = open(args.log, "wb")
    log.write(("# " + " ".join(argv) + "\n").encode())
    # stdin from /dev/null: with -nographic QEMU would otherwise put a
    # terminal into raw mode. Its own process group, so that killing it on
    # timeout touches nothing else.
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    began = ended = False
    result, result_line = None, ""
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    not_passed = []  # "FAIL name" / "SKIP name", repeated in the summary
    failure = None
    tail = []  # last console lines, shown when the VM did not get to the tests
    buf = b""
    fd = proc.stdout.fileno()
    while True:
        now = time.monotonic() - start
        if not began and now > args.boot_timeout:
            failure = f"the VM did not start the tests within {args.boot_timeout:.0f}s"
            break
        if now > args.timeout:
            failure = f"the VM did not finish within {args.timeout:.0f}s"
            break
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break  # QEMU exited
        log.write(chunk)
        log.flush()
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for raw in lines:
            line = ANSI.sub("", raw.decode(errors="replace")).rstrip("\r")
            tail = (tail + [line])[-40:]
            if line.startswith("VMTEST-BEGIN"):
                began = True
                print(f"vmtest: VM booted in {time.monotonic() - start:.1f}s: {line}", flush=True)
                continue
            if not began or ended:
                continue
            if line.startswith("VMTEST-END"):
                ended = True
                continue
            m = RESULT.match(line)
            if m:
                result, result_line = int(m.group(1)), line
            t = TEST_LINE.match(line)
            if t:
                counts[t.group(1)] += 1
                if t.group(1) != "PASS":
                    not_passed.append(line.split(":")[0])
            print(f"vm| {line}", flush=True)
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    log.close()
    elapsed = time.monotonic() - start

    if failure is None and result is None:
        failure = ("the VM did not boot to the tests" if not began else
                   "the VM stopped before printing its VMTEST-RESULT line")
        if proc.returncode:
            failure += f" (qemu exit status {proc.returncode})"
    if failure and not began:
        print("vmtest: last console lines:")
        for line in tail:
            print(f"  {line}")
    summary = (f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped "
               f"in the VM; {elapsed:.0f}s; console log {args.log}")
    for name in not_passed:
        print(f"vmtest: {name}")
    if failure:
        print(f"vmtest: FAIL: {failure}; {summary}")
        return 1
    if result != 0:
        print(f"vmtest: FAIL: VM result rc={result}; {summary}")
        return 1
    debug_run = " run=" in result_line  # VMTEST_RUN: a command, not the suites
    if not debug_run and (counts["FAIL"] or counts["SKIP"] or not counts["PASS"]):
        print(f"vmtest: FAIL: rc=0 but the test lines disagree; {summary}")
        return 1
    print(f"vmtest: PASS: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
