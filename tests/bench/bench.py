#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""synscope's benchmark (`make bench`): connection rate with and without tracers.

Loads, each in a private network namespace on loopback:
  loadgen   build/loadgen, 1 client thread: connect + RST close against accept + close
  rst       the same with 2 client threads: the saturating load
  fin       2 client threads closing normally (FIN): each close races the
            server's close of the same connection (overlapping teardown)
  nginx     nginx, 2 workers, keepalive_timeout 0, under `ab -c 8` (one
            connection per request; the server closes first)

Each load runs untraced and under each tracer: synscope -f jsonl -o FILE,
synscope -f text -o FILE, synscope -w FILE (capture; counted by reading it
back with -r afterwards), synscope --hooks-only (the floor: every hook
attached, every program returning at once, nothing recorded), and bcc's
libbpf-tools tcpstates and tcplife.
synscope runs with its defaults and no filter. Configurations run interleaved
(A B C ..., then B C ... A, and so on), rounds in turn; each figure is the
median over rounds. The ratio is the median over rounds of each
configuration's rate divided by the untraced rate of the same round, so slow
drift of the machine (it is small and noisy) cancels; the lowest and highest
of those per-round ratios follow it, so that a difference between two
configurations can be read against the rounds' spread.

Columns for synscope: records per second; lost (the largest `lost.total`
over rounds); records complete (exactly one client and one server record per
connection the load made, in every round; ab does not count the up to 8
connections open when it stops, so there the client and server counts must
be equal and within 8 above ab's; a client whose third ACK the server
dropped on a full accept queue has no server end, so up to the round's
TcpExt ListenOverflows clients may lack one, and the table says when the
queue overflowed); synscope's CPU time per record
(utime + stime from /proc over the records it wrote); peak RSS. BPF time per
connection comes from one extra run per round with kernel.bpf_stats_enabled=1
(timing every program slows it, so that run is not used for throughput): all
hooks of both ends, fallback programs included, divided by connections; a
second such run with --hooks-only gives its floor: the cost of invoking the
programs (with the statistics' own clock reads) before they do any work.
Both are medians over the rounds, with their range: on this 2-vCPU virtual
machine one run can land in a slow phase of the host where every
cross-CPU cache line costs more (seen: 3.4 and 5.8 us per connection for
the same build, minutes apart).

--baseline PATH compares a change with what it changes: each synscope
configuration also runs with the synscope binary at PATH (a build of the
base commit, e.g. in a git worktree), as "CONFIG@base", interleaved with the
others in every round, and each round's BPF runs alternate between the two
binaries. Ratios and BPF figures of both come from the same rounds.

--soak SECONDS instead runs the rst load for that long under
`synscope -f jsonl -o /dev/null` and prints its RSS every 10 s.

Usage: bench.py [--seconds S] [--rounds R] [--quick] [--loads a,b] [--configs a,b]
                [--baseline PATH] [--json FILE] [--soak SECONDS]
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import types

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("OUTPUT", os.path.join(ROOT, "build"))
SYNSCOPE = os.path.join(BUILD, "synscope")
LOADGEN = os.path.join(BUILD, "loadgen")
PORT = 9000
TICK = os.sysconf("SC_CLK_TCK")

sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from harness import tcpext  # noqa: E402


def netns_run(ns, argv, **kw):
    return subprocess.run(["ip", "netns", "exec", ns] + argv, **kw)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_kib(pid, field="VmHWM:"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field):
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
        rss = rss_kib(self.proc.pid)
        self.proc.send_signal(signal.SIGINT if self.name != "synscope" else signal.SIGTERM)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.set_blocking(self.proc.stderr.fileno(), True)
        err = self.proc.stderr.read().decode(errors="replace")
        self.out.close()
        return cpu, rss, err


# ---- loads ------------------------------------------------------------------

class Loadgen:
    def __init__(self, threads, fin):
        self.args = ["-c", str(threads)] + (["-F"] if fin else [])

    def setup(self, ns, tmp):
        # FIN closes leave TIME_WAIT behind: let connect() reuse those ports.
        netns_run(ns, ["sysctl", "-q", "net.ipv4.tcp_tw_reuse=1",
                       "net.ipv4.ip_local_port_range=1024 65535"], check=True)

    def run(self, ns, seconds):
        load = netns_run(ns, [LOADGEN, "-d", str(seconds), "-p", str(PORT)] + self.args,
                         capture_output=True, text=True, check=True)
        return json.loads(load.stdout)

    def teardown(self):
        pass


NGINX_CONF = """
daemon off;
master_process on;
worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx.err warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_timeout 0;
    client_body_temp_path {tmp};
    proxy_temp_path {tmp};
    fastcgi_temp_path {tmp};
    uwsgi_temp_path {tmp};
    scgi_temp_path {tmp};
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


class Nginx:
    """nginx in the namespace for the whole bench, ab as the client."""

    def setup(self, ns, tmp):
        self.dir = os.path.join(tmp, "nginx")
        os.makedirs(self.dir, exist_ok=True)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(tmp=self.dir, port=PORT))
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, shutil.which("nginx"), "-c",
                                      conf, "-e", os.path.join(self.dir, "nginx.err")])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if netns_run(ns, ["ab", "-q", "-n", "1", f"http://127.0.0.1:{PORT}/"],
                         capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("nginx did not answer")

    def run(self, ns, seconds):
        out = netns_run(ns, ["ab", "-q", "-t", str(seconds), "-n", "100000000", "-c", "8",
                             f"http://127.0.0.1:{PORT}/"], capture_output=True, text=True,
                        check=True).stdout
        done = int(re.search(r"Complete requests:\s+(\d+)", out).group(1))
        failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
        secs = float(re.search(r"Time taken for tests:\s+([\d.]+)", out).group(1))
        # ab stops at -t with up to -c connections open that it does not count.
        return {"connections": done, "failed": failed, "seconds": secs, "rate": done / secs,
                "uncounted": 8}

    def teardown(self):
        if getattr(self, "proc", None):
            self.proc.send_signal(signal.SIGQUIT)  # graceful: workers finish their requests
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


LOADS = {
    "loadgen": lambda: Loadgen(1, False),
    "rst": lambda: Loadgen(2, False),
    "fin": lambda: Loadgen(2, True),
    "nginx": Nginx,
}

# ---- counting what a tracer wrote -------------------------------------------------


def jsonl_counts(path, netns_inode):
    clients = servers = 0
    lost = None
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r["type"] == "stats":
                lost = r["lost"]["total"]
            elif (r["type"] == "handshake" and r["netns"] == netns_inode and
                  PORT in (r["sport"], r["dport"])):
                clients += r["role"] == "client"
                servers += r["role"] == "server"
    return clients, servers, lost


def odd_ends(path, netns_inode, limit=20):
    """The handshake records of a JSONL file that have no peer record, or a
    twin: paired by the client's ports, ISS and IRS (the server's mirrored)."""
    ends = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if (r["type"] != "handshake" or r["netns"] != netns_inode or
                    PORT not in (r["sport"], r["dport"])):
                continue
            client = r["role"] == "client"
            key = ((r["sport"], r["dport"], r["iss"], r["irs"]) if client else
                   (r["dport"], r["sport"], r["irs"], r["iss"]))
            ends.setdefault(key, ([], []))[0 if client else 1].append(r)
    return [c + s for c, s in ends.values() if len(c) != 1 or len(s) != 1][:limit]


def listen_overflows(ns):
    """TcpExt ListenOverflows of namespace ns (/proc/net/netstat, read by the e2e
    harness): SYNs and third ACKs its listeners dropped on a full accept queue."""
    netns = types.SimpleNamespace(run=lambda argv, **kw: netns_run(ns, argv, **kw))
    return tcpext(netns)["ListenOverflows"]


def complete(result):
    """One client and one server record per connection. A third ACK dropped on a
    full accept queue (tcp_check_req() -> listen_overflow) leaves its client
    ESTABLISHED with no server socket ever made: a client record alone, at most
    one per ListenOverflows of the round."""
    missing = result["clients"] - result["servers"]
    return (0 <= missing <= result["listen_overflows"] and
            result["connections"] <= result["clients"] <=
            result["connections"] + result.get("uncounted", 0))


def text_counts(path):
    clients = servers = 0
    port = f":{PORT}"
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) > 4 and (parts[2].endswith(port) or parts[4].endswith(port)):
                clients += parts[1] == "client"
                servers += parts[1] == "server"
    return clients, servers


def parse_lost(stderr):
    for line in stderr.splitlines():
        if line.startswith("synscope: lost: "):
            return int(line.split()[2])
    return None


def synscope_supports(flag):
    out = subprocess.run([SYNSCOPE, "--help"], capture_output=True, text=True).stdout
    return re.search(rf"(^|\s){re.escape(flag)}[ ,=]", out, re.M) is not None


SYNSCOPE_CONFIGS = {
    "synscope-jsonl": lambda out: ["-f", "jsonl", "-o", out],
    "synscope-text": lambda out: ["-o", out],
    "synscope-capture": lambda out: ["-w", out],
    # The floor: every hook attached, every program returning at once.
    "synscope-hooks": lambda out: ["--hooks-only", "-o", out],
    # Metrics only: records counted in the kernel, none sent to user space.
    "synscope-metrics": lambda out: ["--metrics", f"127.0.0.1:{19000 + os.getpid() % 1000}"],
}


BASE_SUFFIX = "@base"


def run_config(label, load, ns, ns_inode, seconds, tmp, baseline=None):
    """One run of configuration `label`: NAME, or NAME@base for the --baseline binary."""
    name, base = label.removesuffix(BASE_SUFFIX), label.endswith(BASE_SUFFIX)
    binary = baseline if base else SYNSCOPE
    out = os.path.join(tmp, f"{name}.out")
    tracer = None
    if name in SYNSCOPE_CONFIGS:
        tracer = Tracer("synscope", [binary] + SYNSCOPE_CONFIGS[name](out),
                        b"synscope: tracing", out + ".stdout")
    elif name in ("tcpstates", "tcplife"):
        tracer = Tracer(name, [shutil.which(name)], None, out)
    overflows = listen_overflows(ns)
    result = load.run(ns, seconds)
    result["listen_overflows"] = listen_overflows(ns) - overflows
    if not tracer:
        return result
    cpu, rss, err = tracer.stop()
    result.update(cpu_s=cpu, rss_kib=rss)
    if name == "synscope-capture":
        # Read the capture back (not timed): the records it holds.
        replay = out + ".jsonl"
        subprocess.run([binary, "-r", out, "-f", "jsonl", "-o", replay],
                       capture_output=True, check=False)
        c, s, lost = jsonl_counts(replay, ns_inode)
        result.update(clients=c, servers=s, lost=lost)
    elif name == "synscope-jsonl":
        c, s, lost = jsonl_counts(out, ns_inode)
        result.update(clients=c, servers=s, lost=lost)
    elif name == "synscope-text":
        c, s = text_counts(out)
        result.update(clients=c, servers=s, lost=parse_lost(err))
    elif name == "synscope-metrics":
        result.update(lost=parse_lost(err))
    if "clients" in result and result["lost"] is None:
        print(f"bench: {name}: no loss count in its output:\n{err[-800:]}", file=sys.stderr)
    if "clients" in result and not complete(result):
        # Kept for the report (build/bench.json): what was odd, and what
        # synscope said of it. The text sink cannot be paired.
        records = replay if name == "synscope-capture" else out
        result["stderr_tail"] = err[-2000:]
        if name != "synscope-text":
            result["odd_ends"] = odd_ends(records, ns_inode)
        print(f"bench: {name}: records incomplete ({result['clients']} client, "
              f"{result['servers']} server records for {result['connections']} connections, "
              f"{result['listen_overflows']} ListenOverflows); details in the JSON report",
              file=sys.stderr)
    return result


def bpf_prog_stats():
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True)
    progs = {}
    for p in json.loads(out.stdout or "[]"):
        if p.get("name", "").startswith("handle_") and p.get("run_cnt"):
            progs[p["name"]] = (p["run_cnt"], p["run_time_ns"])
    return progs


def bpf_runtime(load, ns, seconds, tmp, extra=(), binary=SYNSCOPE):
    """One synscope run with BPF statistics on: mean ns per program invocation."""
    subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=1"], check=True)
    try:
        tracer = Tracer("synscope", [binary, "-f", "jsonl", "-o", os.path.join(tmp, "bpf.out")]
                        + list(extra), b"synscope: tracing", os.path.join(tmp, "bpf.stdout"))
        before = bpf_prog_stats()
        result = load.run(ns, seconds)
        after = bpf_prog_stats()
        tracer.stop()
    finally:
        subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=0"])
    progs = {}
    for name, (cnt, ns_) in after.items():
        c0, n0 = before.get(name, (0, 0))
        if cnt > c0:
            progs[name] = {"runs": cnt - c0, "ns": ns_ - n0, "mean_ns": (ns_ - n0) / (cnt - c0)}
    conns = max(result["connections"], 1)
    for p in progs.values():
        p["runs_per_connection"] = p["runs"] / conns
    return progs, sum(p["ns"] for p in progs.values()) / conns


def median_row(c, runs, base_runs):
    rate = statistics.median(r["rate"] for r in runs)
    ratios = [r["rate"] / u["rate"] for r, u in zip(runs, base_runs)]
    row = {"rate": rate, "ratio": statistics.median(ratios),
           "ratio_range": [min(ratios), max(ratios)], "runs": runs}
    if "clients" in runs[0]:
        row["records_per_s"] = statistics.median((r["clients"] + r["servers"]) / r["seconds"]
                                                 for r in runs)
        row["lost"] = max(r["lost"] if r["lost"] is not None else -1 for r in runs)
        row["records_complete"] = all(complete(r) for r in runs)
        row["cpu_us_per_record"] = statistics.median(
            r["cpu_s"] * 1e6 / max(r["clients"] + r["servers"], 1) for r in runs)
    row["listen_overflows"] = max(r["listen_overflows"] for r in runs)
    if "cpu_s" in runs[0]:
        row["cpu_us_per_conn"] = statistics.median(r["cpu_s"] * 1e6 / max(r["connections"], 1)
                                                   for r in runs)
        row["peak_rss_kib"] = max(r["rss_kib"] for r in runs)
    return row


def median_range(values):
    """'median (min-max)' of the rounds' values, or the one value."""
    med = f"{statistics.median(values):.0f}"
    return med if len(values) == 1 else f"{med} ({min(values):.0f}-{max(values):.0f})"


def median_programs(rounds):
    """Per program: the median over rounds of its runs per connection and its mean ns."""
    names = {n for r in rounds for n in r}
    return {n: {k: statistics.median(r[n][k] for r in rounds if n in r)
                for k in ("runs_per_connection", "mean_ns")} for n in names}


def print_table(load_name, rows, bpf_ns, floor_ns):
    floor = (f" (floor: {median_range(floor_ns)} with programs that return at once)"
             if floor_ns else "")
    print(f"\nload {load_name}: untraced {rows['untraced']['rate']:.0f} conn/s; "
          f"BPF {median_range(bpf_ns)} ns per connection, median (range) of rounds{floor}")
    print(f"  {'configuration':21s} {'conn/s':>8s} {'ratio':>6s} {'(rounds)':>11s} "
          f"{'records/s':>10s} {'lost':>6s} {'complete':>8s} {'us/record':>9s} {'us/conn':>8s} "
          f"{'peak RSS':>9s}")
    for c, row in rows.items():
        recs = lost = ok = cpu_rec = cpu_conn = rss = "-"
        if "records_per_s" in row:
            recs, lost = f"{row['records_per_s']:.0f}", str(row["lost"])
            ok = "yes" if row["records_complete"] else "NO"
            cpu_rec = f"{row['cpu_us_per_record']:.2f}"
        if "cpu_us_per_conn" in row:
            cpu_conn = f"{row['cpu_us_per_conn']:.2f}"
            rss = f"{row['peak_rss_kib'] / 1024:.1f}M"
        lo, hi = row["ratio_range"]
        spread = f"{lo:.2f}-{hi:.2f}" if lo != hi else "-"
        print(f"  {c:21s} {row['rate']:8.0f} {row['ratio']:6.2f} {spread:>11s} {recs:>10s} "
              f"{lost:>6s} {ok:>8s} {cpu_rec:>9s} {cpu_conn:>8s} {rss:>9s}")
    overflows = {c: row["listen_overflows"] for c, row in rows.items() if row["listen_overflows"]}
    if overflows:
        print("  accept queue full (TcpExt ListenOverflows, most in a round): " +
              ", ".join(f"{c} {n}" for c, n in overflows.items()) +
              "; a client whose third ACK was dropped has no server end")


def print_programs(figures, suffixes):
    """Per program: runs per connection and mean ns, for this build and the baseline."""
    progs = [figures["bpf_programs" + b] for b in suffixes]
    head = "".join(f" {'ns' + b:>9s}" for b in suffixes)
    print(f"    {'program':26s} {'runs/conn':>9s}{head}")
    for name in sorted(set().union(*progs)):
        runs = next(p[name]["runs_per_connection"] for p in progs if name in p)
        cols = "".join(f" {p[name]['mean_ns']:9.0f}" if name in p else f" {'-':>9s}"
                       for p in progs)
        print(f"    {name:26s} {runs:9.2f}{cols}")


def make_ns(tmp):
    ns = f"synscope-bench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    netns_run(ns, ["ip", "link", "set", "lo", "up"], check=True)
    return ns, os.stat(f"/run/netns/{ns}").st_ino


def soak(seconds):
    """RSS of synscope over a long saturated run (rst load, output to /dev/null)."""
    with tempfile.TemporaryDirectory() as tmp:
        ns, _ = make_ns(tmp)
        try:
            load = LOADS["rst"]()
            load.setup(ns, tmp)
            tracer = Tracer("synscope", [SYNSCOPE, "-f", "jsonl", "-o", "/dev/null"],
                            b"synscope: tracing", os.path.join(tmp, "stdout"))
            gen = subprocess.Popen(["ip", "netns", "exec", ns, LOADGEN, "-d", str(seconds), "-p",
                                    str(PORT), "-c", "2"], stdout=subprocess.PIPE, text=True)
            start = time.monotonic()
            print(f"{'seconds':>8s} {'RSS':>9s} {'peak RSS':>9s}")
            while gen.poll() is None:
                print(f"{time.monotonic() - start:8.0f} "
                      f"{rss_kib(tracer.proc.pid, 'VmRSS:') / 1024:8.1f}M "
                      f"{rss_kib(tracer.proc.pid) / 1024:8.1f}M", flush=True)
                time.sleep(10)
            result = json.loads(gen.stdout.read())
            _, rss, err = tracer.stop()
            print(f"{result['connections']} connections at {result['rate']:.0f}/s; "
                  f"final peak RSS {rss / 1024:.1f}M; {parse_lost(err)} lost")
        finally:
            subprocess.run(["ip", "netns", "del", ns])
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true",
                    help="for development: 2 s, 1 round, no libbpf-tools")
    ap.add_argument("--loads", default=",".join(LOADS))
    ap.add_argument("--configs", default=None, help="comma-separated subset")
    ap.add_argument("--json", default=os.path.join(BUILD, "bench.json"))
    ap.add_argument("--soak", type=float, default=0)
    ap.add_argument("--baseline", default=None,
                    help="another synscope binary, run interleaved as CONFIG@base")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench: needs root (BPF, network namespaces)", file=sys.stderr)
        return 1
    if args.soak:
        return soak(args.soak)
    if args.quick:
        args.seconds, args.rounds = 2, 1
    configs = ["untraced", "synscope-jsonl", "synscope-text"]
    if synscope_supports("-w"):
        configs.append("synscope-capture")
    # Hidden from --help: accepted if argp takes it before --help.
    hooks_only = subprocess.run([SYNSCOPE, "--hooks-only", "--help"],
                                capture_output=True).returncode == 0
    if hooks_only:
        configs.append("synscope-hooks")
    if synscope_supports("--metrics"):
        configs.append("synscope-metrics")
    missing = [t for t in ("tcpstates", "tcplife") if not shutil.which(t)]
    if not args.quick:
        configs += [t for t in ("tcpstates", "tcplife") if t not in missing]
    if args.configs:
        configs = ["untraced"] + [c for c in configs if c in args.configs.split(",")
                                  and c != "untraced"]
    loads = [name for name in args.loads.split(",") if name in LOADS]
    if "nginx" in loads and not (shutil.which("nginx") and shutil.which("ab")):
        print("bench: nginx or ab missing (make bench installs them): nginx load skipped",
              file=sys.stderr)
        loads.remove("nginx")

    if args.baseline:
        if not os.access(args.baseline, os.X_OK):
            print(f"bench: --baseline {args.baseline}: not an executable synscope binary",
                  file=sys.stderr)
            return 1
        configs = [x for c in configs
                   for x in ([c, c + BASE_SUFFIX] if c.startswith("synscope-") else [c])]
    binaries = {"": SYNSCOPE}
    if args.baseline:
        binaries[BASE_SUFFIX] = args.baseline

    summary = {"date": time.strftime("%Y-%m-%d"), "seconds": args.seconds,
               "rounds": args.rounds, "baseline": args.baseline, "loads": {},
               "not_installed": missing}
    for load_name in loads:
        with tempfile.TemporaryDirectory() as tmp:
            ns, ns_inode = make_ns(tmp)
            load = LOADS[load_name]()
            results = {c: [] for c in configs}
            bpf_rounds = {b: [] for b in binaries}
            floor_rounds = {b: [] for b in binaries}
            try:
                load.setup(ns, tmp)
                runs_dir = os.path.join(tmp, "runs")
                os.makedirs(runs_dir)
                for rnd in range(args.rounds):
                    # Rotate the order each round, so no configuration always
                    # follows the same one.
                    for c in configs[rnd % len(configs):] + configs[:rnd % len(configs)]:
                        r = run_config(c, load, ns, ns_inode, args.seconds, runs_dir,
                                       args.baseline)
                        # The previous run's output must not be written back
                        # to disk during the next one.
                        for f in os.listdir(runs_dir):
                            os.unlink(os.path.join(runs_dir, f))
                        os.sync()
                        results[c].append(r)
                        print(f"{load_name} round {rnd + 1} {c:21s} {r['rate']:9.0f} conn/s",
                              file=sys.stderr, flush=True)
                    order = list(binaries)
                    for b in order[rnd % len(order):] + order[:rnd % len(order)]:
                        bpf_rounds[b].append(bpf_runtime(load, ns, args.seconds, runs_dir,
                                                         binary=binaries[b]))
                        if hooks_only:
                            floor_rounds[b].append(bpf_runtime(
                                load, ns, args.seconds, runs_dir, ["--hooks-only"],
                                binary=binaries[b])[1])
            finally:
                load.teardown()
                subprocess.run(["ip", "netns", "del", ns])
        rows = {c: median_row(c, results[c], results["untraced"]) for c in configs}
        summary["loads"][load_name] = {"configs": rows}
        for b in binaries:
            progs = median_programs([p for p, _ in bpf_rounds[b]])
            bpf_ns = [ns_ for _, ns_ in bpf_rounds[b]]
            floor_ns = floor_rounds[b] or None
            summary["loads"][load_name].update({
                "bpf_ns_per_connection" + b: statistics.median(bpf_ns),
                "bpf_ns_per_connection_rounds" + b: bpf_ns,
                "bpf_floor_ns_per_connection" + b:
                    statistics.median(floor_ns) if floor_ns else None,
                "bpf_floor_ns_per_connection_rounds" + b: floor_ns,
                "bpf_programs" + b: progs})
            if not b:
                print_table(load_name, rows, bpf_ns, floor_ns)
            else:
                floor = f" (floor: {median_range(floor_ns)})" if floor_ns else ""
                print(f"  baseline {args.baseline}: BPF {median_range(bpf_ns)} ns per "
                      f"connection{floor}")
        print_programs(summary["loads"][load_name], list(binaries))
        sys.stdout.flush()
    for t in missing:
        print(f"{t} not installed: its rows are missing")
    with open(args.json, "w") as f:
        json.dump(summary, f, indent=1)
    print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
