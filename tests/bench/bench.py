#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""synscope's benchmark (`make bench`): connection rate with and without tracers.

In a private network namespace, build/loadgen makes loopback connections
(connect + RST close against accept + close) as fast as it can for a fixed
time. Configurations run interleaved (A B C ..., then B C ... A, and so on) for
several rounds and each figure is the median over rounds. The ratio is the
median over rounds of each configuration's rate divided by the untraced rate of
the same round, so slow drift of the machine (it is small and noisy) cancels.

For each synscope run it also reports records per second, lost events, the
records-per-connection check (exactly one client and one server record per
connection loadgen made), synscope's CPU time per connection and peak RSS.
Mean BPF run time per program comes from one extra run with
kernel.bpf_stats_enabled=1 (timing every program slows it, so that run is
not used for throughput).

Usage: bench.py [--seconds S] [--rounds R] [--json FILE]
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("OUTPUT", os.path.join(ROOT, "build"))
SYNSCOPE = os.path.join(BUILD, "synscope")
LOADGEN = os.path.join(BUILD, "loadgen")
PORT = 9000
TICK = os.sysconf("SC_CLK_TCK")


def netns_run(ns, argv, **kw):
    return subprocess.run(["ip", "netns", "exec", ns] + argv, **kw)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def wait_ready(proc, marker, timeout=30):
    """Waits for `marker` on the tracer's stderr (bounded)."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = proc.stderr.fileno()
    os.set_blocking(fd, False)
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            chunk = None
        if chunk:
            buf += chunk
            if marker in buf:
                return
        elif proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"tracer not ready: {buf[-500:]!r}")


class Tracer:
    """A tracer running beside the load, started before it and stopped after."""

    def __init__(self, name, argv, marker, out_path):
        self.name, self.out_path = name, out_path
        self.out = open(out_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.PIPE)
        if marker:
            wait_ready(self.proc, marker)
        else:
            time.sleep(3)  # libbpf-tools print nothing when ready
        self.cpu0 = cpu_seconds(self.proc.pid)

    def stop(self):
        cpu = cpu_seconds(self.proc.pid) - self.cpu0
        rss = peak_rss_kib(self.proc.pid)
        self.proc.send_signal(signal.SIGINT if self.name != "synscope" else signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.set_blocking(self.proc.stderr.fileno(), True)
        err = self.proc.stderr.read().decode(errors="replace")
        self.out.close()
        return cpu, rss, err


def jsonl_counts(path, netns_inode):
    clients = servers = 0
    lost = None
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r["type"] == "stats":
                lost = r["lost"]["total"]
            elif r["netns"] == netns_inode and PORT in (r["sport"], r["dport"]):
                clients += r["role"] == "client"
                servers += r["role"] == "server"
    return clients, servers, lost


def text_counts(path):
    clients = servers = 0
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) > 1:
                clients += parts[1] == "client"
                servers += parts[1] == "server"
    return clients, servers


def bpf_prog_stats():
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True)
    progs = {}
    for p in json.loads(out.stdout or "[]"):
        if p.get("name", "").startswith("handle_") and p.get("run_cnt"):
            progs[p["name"]] = (p["run_cnt"], p["run_time_ns"])
    return progs


def run_config(name, ns, ns_inode, seconds, tmp):
    out = os.path.join(tmp, f"{name}.out")
    tracer = None
    if name == "synscope-jsonl":
        tracer = Tracer("synscope", [SYNSCOPE, "-P", str(PORT), "-f", "jsonl", "-o", out],
                        b"synscope: tracing", out + ".stdout")
    elif name == "synscope-text":
        tracer = Tracer("synscope", [SYNSCOPE, "-P", str(PORT), "-o", out], b"synscope: tracing",
                        out + ".stdout")
    elif name in ("tcpstates", "tcplife"):
        tracer = Tracer(name, [shutil.which(name)], None, out)
    load = netns_run(ns, [LOADGEN, "-d", str(seconds), "-p", str(PORT)], capture_output=True,
                     text=True, check=True)
    result = json.loads(load.stdout)
    if tracer:
        cpu, rss, err = tracer.stop()
        result.update(cpu_s=cpu, rss_kib=rss)
        if name == "synscope-jsonl":
            c, s, lost = jsonl_counts(out, ns_inode)
            result.update(clients=c, servers=s, lost=lost)
        elif name == "synscope-text":
            c, s = text_counts(out)
            result.update(clients=c, servers=s, lost=parse_lost(err))
    return result


def parse_lost(stderr):
    for line in stderr.splitlines():
        if line.startswith("synscope: lost: "):
            return int(line.split()[2])
    return None


def bpf_runtime(ns, seconds):
    """One synscope run with BPF statistics on: mean ns per program invocation."""
    subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=1"], check=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tracer = Tracer("synscope", [SYNSCOPE, "-P", str(PORT), "-f", "jsonl", "-o",
                                         os.path.join(tmp, "x")], b"synscope: tracing",
                            os.path.join(tmp, "stdout"))
            before = bpf_prog_stats()
            load = netns_run(ns, [LOADGEN, "-d", str(seconds), "-p", str(PORT)],
                             capture_output=True, text=True, check=True)
            after = bpf_prog_stats()
            tracer.stop()
    finally:
        subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=0"])
    progs = {}
    for name, (cnt, ns_) in after.items():
        c0, n0 = before.get(name, (0, 0))
        if cnt > c0:
            progs[name] = {"runs": cnt - c0, "mean_ns": (ns_ - n0) / (cnt - c0)}
    total_runs = sum(p["runs"] for p in progs.values())
    total_ns = sum(p["mean_ns"] * p["runs"] for p in progs.values())
    mean = total_ns / total_runs if total_runs else 0
    # Per connection counts both ends and every hook, fallbacks included.
    per_conn = total_ns / max(json.loads(load.stdout)["connections"], 1)
    return progs, mean, per_conn


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", default=os.path.join(BUILD, "bench.json"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench: needs root (BPF, network namespaces)", file=sys.stderr)
        return 1
    configs = ["untraced", "synscope-jsonl", "synscope-text"]
    missing = [t for t in ("tcpstates", "tcplife") if not shutil.which(t)]
    configs += [t for t in ("tcpstates", "tcplife") if t not in missing]

    ns = f"synscope-bench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    results = {c: [] for c in configs}
    try:
        netns_run(ns, ["ip", "link", "set", "lo", "up"], check=True)
        ns_inode = os.stat(f"/run/netns/{ns}").st_ino
        with tempfile.TemporaryDirectory() as tmp:
            for rnd in range(args.rounds):
                # Rotate the order each round, so no configuration always
                # follows the same one.
                for c in configs[rnd % len(configs):] + configs[:rnd % len(configs)]:
                    r = run_config(c, ns, ns_inode, args.seconds, tmp)
                    # The previous run's output must not be written back
                    # to disk during the next one.
                    for f in os.listdir(tmp):
                        os.unlink(os.path.join(tmp, f))
                    os.sync()
                    results[c].append(r)
                    print(f"round {rnd + 1} {c:16s} {r['rate']:9.0f} conn/s", file=sys.stderr,
                          flush=True)
        progs, mean_ns, per_conn_ns = bpf_runtime(ns, args.seconds)
    finally:
        subprocess.run(["ip", "netns", "del", ns])

    base = statistics.median(r["rate"] for r in results["untraced"])
    summary = {"seconds": args.seconds, "rounds": args.rounds, "untraced_rate": base,
               "configs": {}, "bpf_mean_ns": mean_ns, "bpf_ns_per_connection": per_conn_ns,
               "bpf_programs": progs,
               "not_installed": missing}
    print(f"\n{'configuration':16s} {'conn/s':>9s} {'ratio':>6s} {'records/s':>10s} "
          f"{'lost':>5s} {'records ok':>10s} {'cpu us/conn':>11s} {'peak RSS':>9s}")
    for c in configs:
        runs = results[c]
        rate = statistics.median(r["rate"] for r in runs)
        ratio = statistics.median(r["rate"] / u["rate"] for r, u in zip(runs, results["untraced"]))
        row = {"rate": rate, "ratio": ratio, "runs": runs}
        recs = ok = cpu = rss = lost = "-"
        if c.startswith("synscope"):
            per_s = [(r["clients"] + r["servers"]) / r["seconds"] for r in runs]
            row["records_per_s"] = statistics.median(per_s)
            row["lost"] = max(r["lost"] if r["lost"] is not None else -1 for r in runs)
            row["records_match"] = all(r["clients"] == r["connections"] and
                                       r["servers"] == r["connections"] for r in runs)
            recs = f"{row['records_per_s']:.0f}"
            lost = str(row["lost"])
            ok = "yes" if row["records_match"] else "NO"
        if "cpu_s" in runs[0]:
            row["cpu_us_per_conn"] = statistics.median(
                r["cpu_s"] * 1e6 / max(r["connections"], 1) for r in runs)
            row["peak_rss_kib"] = max(r["rss_kib"] for r in runs)
            cpu = f"{row['cpu_us_per_conn']:.2f}"
            rss = f"{row['peak_rss_kib'] / 1024:.1f}M"
        summary["configs"][c] = row
        print(f"{c:16s} {rate:9.0f} {ratio:6.2f} {recs:>10s} {lost:>5s} {ok:>10s} "
              f"{cpu:>11s} {rss:>9s}")
    for t in missing:
        print(f"{t:16s} not installed")
    print(f"\nmean BPF run time per invocation: {mean_ns:.0f} ns; "
          f"per connection (both ends, all hooks): {per_conn_ns:.0f} ns")
    for name, p in sorted(progs.items()):
        print(f"  {name:24s} {p['runs']:9d} runs {p['mean_ns']:7.0f} ns")
    with open(args.json, "w") as f:
        json.dump(summary, f, indent=1)
    print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
