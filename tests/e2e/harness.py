# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Test harness for synscope's end-to-end tests.

Every test runs in a network namespace of its own (created and removed by
the test), filters synscope to the test's own port, and keeps only records
of that namespace: other traffic on the machine never reaches assertions.
All waits are bounded.
"""
import contextlib
import json
import os
import re
import select
import signal
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("OUTPUT", os.path.join(ROOT, "build"))
SYNSCOPE = os.path.join(BUILD, "synscope")
DEMO_SERVER = os.path.join(BUILD, "demo-server")
DEMO_CLIENT = os.path.join(BUILD, "demo-client")
LOADGEN = os.path.join(BUILD, "loadgen")  # tests/bench/loadgen.c: connect()/close() churn


class Skip(Exception):
    """The test cannot run here; the reason is printed and the run fails."""


class Failure(AssertionError):
    pass


def check(cond, what, actual=None, expected=None):
    """Asserts `cond`; on failure reports what was checked, actual and expected."""
    if not cond:
        detail = ""
        if actual is not None or expected is not None:
            detail = f": actual {actual!r}, expected {expected!r}"
        raise Failure(f"{what}{detail}")


def check_eq(actual, expected, what):
    check(actual == expected, what, actual, expected)


class Netns:
    """A private network namespace with loopback up, removed on exit."""

    counter = 0

    def __init__(self, tag):
        Netns.counter += 1
        self.name = f"synscope-{tag}-{os.getpid()}-{Netns.counter}"

    def __enter__(self):
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        try:
            self.run(["ip", "link", "set", "lo", "up"], check=True)
            self.inode = os.stat(f"/run/netns/{self.name}").st_ino
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        subprocess.run(["ip", "netns", "del", self.name], check=False)

    def argv(self, argv):
        return ["ip", "netns", "exec", self.name] + list(argv)

    def run(self, argv, **kw):
        return subprocess.run(self.argv(argv), **kw)

    def popen(self, argv, **kw):
        return subprocess.Popen(self.argv(argv), **kw)

    def sysctl(self, name, value):
        """Sets a per-namespace sysctl (net.ipv4.ip_forward...) in this namespace
        (through /proc/sys: the VM image has no sysctl(8))."""
        path = "/proc/sys/" + name.replace(".", "/")
        self.run(["sh", "-c", f"echo {value} > {path}"], check=True)


def wait_for_line(proc, pattern, timeout, stream="stdout"):
    """Reads lines of proc's stream until one matches; returns (match, lines seen).

    Reads the raw fd with select(), a byte at a time past the matching line,
    so that nothing after it is consumed: communicate() gets the rest.
    """
    deadline = time.monotonic() + timeout
    fd = getattr(proc, stream).fileno()
    seen, line = [], b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        ch = os.read(fd, 1)
        if not ch:
            break
        if ch != b"\n":
            line += ch
            continue
        text = line.decode(errors="replace")
        line = b""
        seen.append(text)
        m = re.search(pattern, text)
        if m:
            return m, seen
    raise Failure(f"no line matching {pattern!r} within {timeout}s; saw {seen!r}")


class Background:
    """build/synscope ARGS in the background (in ns if given), started once it traces."""

    def __init__(self, args, ns=None, env=None):
        argv = [SYNSCOPE] + list(args)
        env = dict(os.environ, **env) if env else None
        self.proc = (ns.popen(argv, stderr=subprocess.PIPE, text=True, env=env) if ns
                     else subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env))
        self.startup, _ = wait_for_line(self.proc, r"synscope: tracing", 30, "stderr")
        self.stderr = ""

    def stop_process(self, sig=signal.SIGTERM, timeout=15):
        """Signals synscope and waits; returns (exit status, its stderr)."""
        self.proc.send_signal(sig)
        try:
            _, self.stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Failure(f"synscope did not exit within {timeout}s of signal {sig}")
        return self.proc.returncode, self.stderr


class Tracer(Background):
    """build/synscope in the background, writing JSONL to a file."""

    def __init__(self, args, out_path, ns=None, env=None):
        self.out_path = out_path
        super().__init__(["-f", "jsonl", "-o", out_path] + list(args), ns, env)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Stops synscope; returns (exit status, parsed JSONL records)."""
        self.stop_process(sig, timeout)
        with open(self.out_path) as f:
            records = [json.loads(line) for line in f if line.strip()]
        return self.proc.returncode, records


def free_port(seed):
    """A port for a test: tests run in private namespaces, so any fixed port is free."""
    return 20000 + (os.getpid() * 7 + seed) % 20000


def handshakes(records, netns, port):
    """Handshake records of this test: its namespace, its port."""
    return [r for r in records if r.get("type") == "handshake" and r["netns"] == netns
            and port in (r["sport"], r["dport"])]


def id_gaps(ends):
    """Ids synscope handed out but did not write, among handshake records `ends`: each CPU
    numbers its ends (id = n * possible CPUs + CPU + 1, bpf/records.bpf.h init_end()), so
    below a CPU's last id every one of its ids names an end. Meaningful when `ends` holds all
    the ends synscope traced (run with -P on ports only the test uses)."""
    possible = open("/sys/devices/system/cpu/possible").read().strip()
    stride = int(possible.split("-")[-1]) + 1
    have, gaps = {e["id"] for e in ends}, []
    for cpu in range(stride):
        mine = [i for i in have if (i - 1) % stride == cpu]
        if mine:
            gaps += [i for i in range(cpu + 1, max(mine), stride) if i not in have]
    return gaps


def parse_kv(line):
    return dict(kv.split("=", 1) for kv in line.split() if "=" in kv)


def check_accept_waits(waits_us, delay_ms):
    """A server sleeping delay_ms before each accept(), its clients all queued at once:
    the k-th connection accepted (from 0) waited at least k * delay_ms in the queue.
    (The first wait depends on when the clients started, which the test does not control.)"""
    waits = sorted(waits_us)
    for k, w in enumerate(waits):
        check(w >= k * delay_ms * 1000 - 2000, f"accept-queue wait of the connection accepted "
              f"{k + 1}th covers {k} accept delays", w, f">= {k * delay_ms * 1000}")


@contextlib.contextmanager
def demo_server(ns, args, timeout=10):
    """demo-server ARGS in ns, once it listens: yields (process, its "listening" fields).
    Killed on the way out if it is still running."""
    proc = ns.popen([DEMO_SERVER] + list(args), stdout=subprocess.PIPE, text=True)
    try:
        m, _ = wait_for_line(proc, r"^listening .*", timeout)
        yield proc, parse_kv(m.group(0))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def bpf_map_entries(pid, name):
    """Entries of the BPF map `name` that process `pid` holds open (bpftool's JSON, with BTF)."""
    for fdinfo in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fdinfo}") as f:
                ids = [line.split()[1] for line in f if line.startswith("map_id:")]
        except OSError:
            continue
        for map_id in ids:
            info = json.loads(subprocess.run(["bpftool", "map", "show", "id", map_id, "-j"],
                                             capture_output=True, text=True, check=True).stdout)
            if info.get("name") == name:
                out = subprocess.run(["bpftool", "map", "dump", "id", map_id, "-j"],
                                     capture_output=True, text=True, check=True).stdout
                return [e.get("formatted", e) for e in json.loads(out)]
    raise Failure(f"process {pid} holds no BPF map named {name}")


def tcpext(ns):
    """The namespace's TcpExt counters (/proc/net/netstat) by name."""
    lines = [l.split() for l in ns.run(["cat", "/proc/net/netstat"], capture_output=True,
                                       text=True).stdout.splitlines() if l.startswith("TcpExt:")]
    return dict(zip(lines[0][1:], map(int, lines[1][1:])))


def ss_listener(ns, port):
    """(Recv-Q, Send-Q) of ss -ltn for the listener on port: its queue length and backlog."""
    for line in ns.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout.splitlines():
        fields = line.split()
        return int(fields[1]), int(fields[2])
    raise Failure(f"ss shows no listener on port {port}")


def ss_drops(ns, port):
    """The listener's sk_drops as ss -ltnm prints it (skmem's d field)."""
    out = ns.run(["ss", "-Hltnm", f"sport = :{port}"], capture_output=True, text=True).stdout
    m = re.search(r"skmem:\([^)]*\bd(\d+)\)", out)
    if not m:
        raise Failure(f"ss -ltnm shows no drop count for port {port}: {out!r}")
    return int(m.group(1))
