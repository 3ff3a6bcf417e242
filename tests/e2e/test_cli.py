# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Bad input and missing privileges: a clear message and a non-zero exit, never a trace."""
import os
import subprocess
import tempfile

from harness import SYNSCOPE, check


def run(args, **kw):
    return subprocess.run([SYNSCOPE] + args, capture_output=True, text=True, timeout=30, **kw)


def unused_pid():
    pid = 4000000
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


BAD = [
    (["--bogus"], "unrecognized option"),
    (["-P", "70000"], "invalid port list '70000'"),
    (["-P", "0"], "invalid port list '0'"),
    (["-P", "80,,x"], "invalid port list"),
    (["-P", ",".join(str(p) for p in range(1, 70))], "too many ports"),
    (["-p", "abc"], "invalid PID 'abc'"),
    (["-p", "-5"], "invalid PID"),
    (["-d", "0"], "invalid duration '0'"),
    (["-i", "0"], "invalid interval '0'"),
    (["-i", "1", "-w", "/dev/null"], "-i writes listener records, which a capture does not hold"),
    (["-i", "1", "-r", "/dev/null"], "-i applies while tracing the kernel"),
    (["-f", "xml"], "unknown format 'xml'"),
    (["-4", "-6"], "-4 and -6 are exclusive"),
    (["--ringbuf-size", "5000"], "invalid ring buffer size"),
    (["--accept-hook", "kprobe"], "unknown accept hook 'kprobe'"),
    (["--timeline", "-f", "jsonl"], "--timeline prints to stdout"),
    (["-p", "1", "--", "true"], "-p and a command are exclusive"),
]


def test_bad_options_fail_with_a_message():
    for args, message in BAD:
        p = run(args)
        check(p.returncode != 0, f"synscope {' '.join(args)} exits non-zero", p.returncode, "!= 0")
        check(message in p.stderr, f"synscope {' '.join(args)} says why", p.stderr, message)


def test_missing_pid_fails():
    pid = unused_pid()
    p = run(["-p", str(pid)])
    check(p.returncode != 0 and f"no process with pid {pid}" in p.stderr,
          "-p with a pid that does not exist", (p.returncode, p.stderr), "non-zero, named")


def test_unwritable_output_fails():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "missing-dir", "out.jsonl")
        p = run(["-o", path, "-d", "1"])
    check(p.returncode != 0 and "couldn't open output file" in p.stderr,
          "-o into a missing directory", (p.returncode, p.stderr), "non-zero, named")


def test_without_root_fails_clearly():
    p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                        SYNSCOPE, "-d", "1"], capture_output=True, text=True, timeout=30)
    check(p.returncode != 0 and "run synscope as root" in p.stderr,
          "unprivileged run: non-zero exit and what to do", (p.returncode, p.stderr), "non-zero")


def test_help_lists_examples():
    p = run(["--help"])
    check(p.returncode == 0 and "Examples:" in p.stdout and "-P 8080" in p.stdout,
          "--help shows examples", p.stdout[-400:], "Examples:")
    p = run(["demo", "--help"])
    check(p.returncode == 0 and "SCENARIOS:" in p.stdout and "handshake" in p.stdout,
          "demo --help lists scenarios", p.stdout[:200], "SCENARIOS:")


def test_duration_ends_with_complete_log():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "out.jsonl")
        p = run(["-d", "1", "-P", "9", "-f", "jsonl", "-o", path])
        with open(path) as f:
            lines = f.read().splitlines()
    check(p.returncode == 0, "-d 1 exits 0", (p.returncode, p.stderr), 0)
    check(lines and '"type":"stats"' in lines[-1], "the log ends with its stats record", lines,
          "stats")
    check("lost: 0" in p.stderr, "summary with lost-event counts on stderr", p.stderr, "lost: 0")


def test_unmounted_tracefs_is_mounted_again():
    """A fresh boot has tracefs unmounted: synscope mounts it (in a private mount namespace here,
    so the machine's own mount is left alone) and says so."""
    script = (f"umount /sys/kernel/tracing 2>/dev/null; "
              f"test -e /sys/kernel/tracing/events && {{ echo still mounted; exit 3; }}; "
              f"exec {SYNSCOPE} -d 1 -P 9")
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and "mounted tracefs at /sys/kernel/tracing" in p.stderr,
          "synscope mounts an absent tracefs and runs", (p.returncode, p.stderr[-300:]),
          "exit 0, 'mounted tracefs'")
