# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""--metrics: a real Prometheus server (Debian's) scrapes synscope; what it stores must equal
synscope's own JSONL records, and promtool must accept the exposition."""
import json
import os
import re
import socket
import subprocess
import tempfile
import time
import urllib.parse

from harness import (SYNSCOPE, Background, Failure, Netns, Tracer, check, check_eq, free_port,
                     handshakes, ss_drops, ss_listener, tcpext, wait_for_line)

# Accepted connections, refused connects, a listen(fd, 8) server that never accepts its q
# clients, and a server with listen(fd, 1) that accepts late while its clients connect at once
# (SYNs beyond the queue are dropped and retransmitted).
TRAFFIC = r"""
import socket, sys, threading, time
pa, pr, pl, pq, n, m, k, q, delay = (int(a) for a in sys.argv[1:10])
queue = socket.socket(); queue.bind(("127.0.0.1", pq)); queue.listen(8)
waiting = [socket.create_connection(("127.0.0.1", pq)) for _ in range(q)]
srv = socket.socket(); srv.bind(("127.0.0.1", pa)); srv.listen(16)
clients = [socket.create_connection(("127.0.0.1", pa)) for _ in range(n)]
accepted = [srv.accept()[0] for _ in range(n)]
for _ in range(m):
    try:
        socket.create_connection(("127.0.0.1", pr))
        sys.exit("connect to a closed port succeeded")
    except ConnectionRefusedError:
        pass
late = socket.socket(); late.bind(("127.0.0.1", pl)); late.listen(1)
held = []
threads = [threading.Thread(target=lambda: held.append(socket.create_connection(("127.0.0.1", pl), timeout=30)))
           for _ in range(k)]
for t in threads: t.start()
time.sleep(delay / 1000)
for _ in range(k):
    held.append(late.accept()[0])
    time.sleep(delay / 1000)
for t in threads: t.join()
print("done", flush=True)
sys.stdin.readline()
"""

PROMETHEUS_CONFIG = """global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: synscope
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


def http_get(ns, url):
    """The body of url, fetched with curl inside the namespace."""
    out = ns.run(["curl", "-sS", "--fail", "--max-time", "5", url], capture_output=True, text=True)
    if out.returncode:
        raise Failure(f"curl {url}: exit {out.returncode}: {out.stderr.strip()}")
    return out.stdout


def promql(ns, prom_port, query):
    """The value of an instant PromQL query that returns one sample, or None if it has none."""
    body = http_get(ns, f"http://127.0.0.1:{prom_port}/api/v1/query?"
                    + urllib.parse.urlencode({"query": query}))
    result = json.loads(body)["data"]["result"]
    if len(result) > 1:
        raise Failure(f"{query}: {len(result)} series, expected one: {result}")
    return float(result[0]["value"][1]) if result else None


def wait_until(what, fn, timeout):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = fn()
        except Failure as e:  # not up yet
            value = str(e)
        if value is True or (value and not isinstance(value, str)):
            return value
        if time.monotonic() > deadline:
            raise Failure(f"{what}: not within {timeout}s (last: {value!r})")
        time.sleep(0.5)


class Prometheus:
    """Debian's prometheus in the namespace, scraping synscope every second."""

    def __init__(self, ns, tmp, target_port, port):
        self.port = port
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write(PROMETHEUS_CONFIG.format(port=target_port))
        check(subprocess.run(["promtool", "check", "config", cfg], capture_output=True).returncode == 0,
              "promtool accepts the test's scrape configuration")
        self.log = open(os.path.join(tmp, "prometheus.log"), "w")
        self.proc = ns.popen(["prometheus", f"--config.file={cfg}",
                              f"--storage.tsdb.path={os.path.join(tmp, 'data')}",
                              f"--web.listen-address=127.0.0.1:{port}"],
                             stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def test_prometheus_stores_what_the_records_say():
    n, m, k, q, delay_ms = 6, 4, 4, 3, 200
    pa, pr, pl, pq = free_port(801), free_port(802), free_port(803), free_port(806)
    metrics_port, prom_port = free_port(804), free_port(805)
    with Netns("metrics") as ns, tempfile.TemporaryDirectory() as tmp:
        tracer = Tracer(["--metrics", f"127.0.0.1:{metrics_port}", "-P", f"{pa},{pr},{pl},{pq}"],
                        os.path.join(tmp, "out.jsonl"), ns=ns)
        prom = traffic = None
        try:
            prom = Prometheus(ns, tmp, metrics_port, prom_port)
            wait_until("Prometheus scrapes synscope", lambda: promql(ns, prom_port, 'up{job="synscope"}'), 60)
            traffic = ns.popen(["python3", "-c", TRAFFIC] + [str(v) for v in (pa, pr, pl, pq, n, m, k, q, delay_ms)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            wait_for_line(traffic, r"^done$", 60)
            # The last scrape holds every record once it counts the late server's last accept.
            last = f'synscope_accept_queue_wait_seconds_count{{port="{pl}"}}'
            wait_until("the late listener's accepts scraped",
                       lambda: promql(ns, prom_port, last) == k, 30)
            time.sleep(1.5)  # one more scrape: nothing may still be arriving
            witness = {"tcpext": tcpext(ns), "ss": ss_listener(ns, pq), "drops": ss_drops(ns, pl)}
            time.sleep(1.5)  # a scrape after the witnesses read (nothing moves now)
            def listener(metric, port):
                return promql(ns, prom_port, f'{metric}{{port="{port}",address="127.0.0.1"}}')
            scraped = {
                "queue length": listener("synscope_accept_queue_length", pq),
                "queue backlog": listener("synscope_accept_queue_backlog", pq),
                "late drops": listener("synscope_listen_drops_total", pl),
                "netns overflows": promql(ns, prom_port, "synscope_netns_listen_overflows_total"),
                "cookies": promql(ns, prom_port, "synscope_syncookies_sent_total"),
                "per-listener overflows": promql(ns, prom_port, "sum(synscope_listen_overflows_total)"),
                "overflow source": promql(ns, prom_port, 'synscope_build_info{overflow_source="kfree_skb"}'),
                "client established": promql(ns, prom_port, 'synscope_handshakes_total{role="client",outcome="established"}'),
                "client refused": promql(ns, prom_port, 'synscope_handshakes_total{role="client",outcome="refused"}'),
                "server established": promql(ns, prom_port, 'synscope_handshakes_total{role="server",outcome="established"}'),
                "connect count refused": promql(ns, prom_port, 'synscope_connect_duration_seconds_count{outcome="refused"}'),
                "late waits": promql(ns, prom_port, last),
                "late wait sum": promql(ns, prom_port, f'synscope_accept_queue_wait_seconds_sum{{port="{pl}"}}'),
                "late p100 bound": promql(ns, prom_port, f'histogram_quantile(1, synscope_accept_queue_wait_seconds_bucket{{port="{pl}"}})'),
                "lost": promql(ns, prom_port, "sum(synscope_events_lost_total)"),
                "build": promql(ns, prom_port, 'synscope_build_info{accept_hook=~"fexit|syscall"}'),
            }
            exposition = http_get(ns, f"http://127.0.0.1:{metrics_port}/metrics")
        finally:
            if traffic:
                traffic.communicate(input=b"\n", timeout=30)
            if prom:
                prom.stop()
            status, records = tracer.stop()
        check_eq(status, 0, "synscope exit status")
        check(f"Prometheus metrics at http://127.0.0.1:{metrics_port}/metrics" in tracer.stderr,
              "synscope says where the metrics are", tracer.stderr[:600], "the URL")
        ends = [r for p in (pa, pr, pl, pq) for r in handshakes(records, ns.inode, p)]
        def count(role, outcome, port=None):
            return sum(1 for r in ends if r["role"] == role and r["outcome"] == outcome
                       and (port is None or port in (r["sport"], r["dport"])))
        check_eq(scraped["client established"], count("client", "established"), "client established = JSONL")
        check_eq(scraped["client established"], n + k + q, "client established = connections made")
        check_eq(scraped["client refused"], count("client", "refused"), "client refused = JSONL")
        check_eq(scraped["client refused"], m, "client refused = refused connects made")
        # The q children still queued when scraped left their records only at the end.
        check_eq(scraped["server established"], count("server", "established", pa) +
                 count("server", "established", pl), "server ends accepted = JSONL's")
        check_eq(count("server", "established", pq), q, "JSONL: the queued children, at exit")
        check_eq(scraped["connect count refused"], m, "connect duration histogram of refused: count")
        late = [r for r in ends if r["role"] == "server" and r["sport"] == pl and r["accepted"]]
        check_eq(scraped["late waits"], len(late), "late listener's accept waits = its JSONL accepted ends")
        jsonl_sum = sum(r["accept_wait_us"] for r in late) / 1e6
        check(abs(scraped["late wait sum"] - jsonl_sum) < 0.001 * k + 0.0001,
              "late listener's accept wait sum = JSONL's accept_wait_us summed", scraped["late wait sum"], jsonl_sum)
        longest = max(r["accept_wait_us"] for r in late) / 1e6
        check(scraped["late p100 bound"] >= longest, "histogram_quantile(1) bounds the longest wait",
              scraped["late p100 bound"], f">= {longest}")
        check_eq(scraped["lost"], 0, "events lost")
        check_eq((scraped["queue length"], scraped["queue backlog"]), witness["ss"],
                 "accept queue length and backlog of the never-accepting listener = ss -ltn's Recv-Q, Send-Q")
        check_eq(witness["ss"], (q, 8), "ss: the clients wait in a queue of 8")
        ext = witness["tcpext"]
        check_eq(scraped["late drops"], witness["drops"], "the late listener's sk_drops = ss -ltnm's d")
        # sk_drops counts every drop, ListenDrops only tcp_listendrop()'s (6.1 counts one more).
        check(scraped["late drops"] >= ext["ListenDrops"] > 0, "the listener's drops include the "
              "namespace's ListenDrops", scraped["late drops"], f">= {ext['ListenDrops']} > 0")
        check_eq(scraped["netns overflows"], ext["ListenOverflows"], "netns overflows = TcpExt ListenOverflows")
        check_eq(scraped["cookies"], ext["SyncookiesSent"], "SYN cookies = TcpExt SyncookiesSent")
        if scraped["overflow source"]:
            check(scraped["per-listener overflows"] <= ext["ListenOverflows"],
                  "third-ACK overflows are among ListenOverflows", scraped["per-listener overflows"],
                  f"<= {ext['ListenOverflows']}")
        check_eq(scraped["build"], 1, "build_info")
        path = os.path.join(tmp, "scrape.txt")
        with open(path, "w") as f:
            f.write(exposition)
        lint = subprocess.run(["promtool", "check", "metrics"], stdin=open(path), capture_output=True, text=True)
        check_eq(lint.returncode, 0, f"promtool check metrics ({lint.stdout}{lint.stderr})")


def test_metrics_alone_keep_records_in_the_kernel():
    n = 5
    port, metrics_port = free_port(811), free_port(812)
    with Netns("metricsonly") as ns:
        tracer = Background(["--metrics", f"127.0.0.1:{metrics_port}", "-P", str(port)], ns)
        try:
            ns.run(["python3", "-c", "import socket, sys\n"
                    "p, n = int(sys.argv[1]), int(sys.argv[2])\n"
                    "s = socket.socket(); s.bind(('127.0.0.1', p)); s.listen(8)\n"
                    "c = [socket.create_connection(('127.0.0.1', p)) for _ in range(n)]\n"
                    "a = [s.accept()[0] for _ in range(n)]\n", str(port), str(n)], check=True)
            time.sleep(0.3)
            body = http_get(ns, f"http://127.0.0.1:{metrics_port}/metrics")
            missing = ns.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                              f"http://127.0.0.1:{metrics_port}/other"], capture_output=True, text=True).stdout
        finally:
            status, stderr = tracer.stop_process()
        check_eq(status, 0, "synscope exit status")
        check("records are counted in the kernel, not written" in stderr,
              "synscope says no record is written", stderr[:600], "metrics-only")
        for role in ("client", "server"):
            m = re.search(rf'synscope_handshakes_total{{role="{role}",outcome="established"}} (\d+)', body)
            check_eq(int(m.group(1)) if m else None, n, f"{role} ends counted in the kernel")
        check_eq(missing, "404", "another path: 404")
        check(f"{2 * n} connection ends counted in the kernel (metrics only, no records)" in stderr,
              "the summary counts from the kernel", stderr[-600:], f"{2 * n} ends")
        check("lost: 0 " in stderr, "nothing lost", stderr[-300:], "lost: 0")


def test_metrics_address_errors():
    bad = subprocess.run([SYNSCOPE, "--metrics", "127.0.0.1:70000"], capture_output=True, text=True)
    check_eq(bad.returncode, 64, "exit status for a bad --metrics")
    check("invalid --metrics '127.0.0.1:70000'" in bad.stderr, "says what is wrong", bad.stderr, "invalid --metrics")
    with Netns("metricsbusy") as ns:
        port = free_port(821)
        holder = ns.popen(["python3", "-c", "import socket, sys\ns = socket.socket(); "
                           f"s.bind(('127.0.0.1', {port})); s.listen(1); print('ready', flush=True); "
                           "sys.stdin.readline()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            wait_for_line(holder, r"^ready$", 10)
            busy = ns.run([SYNSCOPE, "--metrics", str(port), "-d", "1"], capture_output=True, text=True, timeout=60)
        finally:
            holder.communicate(input=b"\n", timeout=10)
        check_eq(busy.returncode, 1, "exit status when the port is taken")
        check(f"couldn't serve metrics on {port}" in busy.stderr, "says the port is taken", busy.stderr,
              "couldn't serve metrics")


SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [0-9.e+-]+$|^(#.*)?$')


def handshake_counts(body):
    return {(role, outcome): int(v) for role, outcome, v in
            re.findall(r'synscope_handshakes_total\{role="(\w+)",outcome="(\w+)"\} (\d+)', body)}


def test_scrapes_while_saturating_traffic_flows():
    port, metrics_port = free_port(831), free_port(832)
    loadgen = os.path.join(os.path.dirname(SYNSCOPE), "loadgen")
    with Netns("metricsload") as ns:
        tracer = Background(["--metrics", f"127.0.0.1:{metrics_port}", "-P", str(port)], ns)
        scrapes = []
        try:
            load = ns.popen([loadgen, "-d", "3", "-c", "2", "-p", str(port)], stdout=subprocess.PIPE, text=True)
            while load.poll() is None:
                scrapes.append(http_get(ns, f"http://127.0.0.1:{metrics_port}/metrics"))
                time.sleep(0.2)
            made = json.loads(load.communicate(timeout=30)[0])
            time.sleep(0.5)  # the last RSTs and destroys
            final = http_get(ns, f"http://127.0.0.1:{metrics_port}/metrics")
        finally:
            status, stderr = tracer.stop_process()
        check_eq(status, 0, "synscope exit status")
        check(len(scrapes) >= 2, "scrapes answered while the load ran", len(scrapes), ">= 2")
        for body in scrapes + [final]:
            bad = [line for line in body.splitlines() if not SAMPLE.match(line)]
            check_eq(bad[:3], [], "every line of every scrape is a sample, a comment or empty")
        counts = [handshake_counts(b) for b in scrapes + [final]]
        for a, b in zip(counts, counts[1:]):
            check(all(b[k] >= a[k] for k in a), "counters never go down between scrapes", (a, b))
        during = counts[len(scrapes) // 2][("client", "established")]
        check(0 < during < counts[-1][("client", "established")], "a scrape in the middle of the load "
              "saw part of it", during, f"between 0 and {counts[-1][('client', 'established')]}")
        # Every end counted, or lost and counted: only as a handshake the kernel reported no end
        # of (handshake_unseen: this host's softirqs that run no BPF program, README "What the
        # kernel does not let synscope see"), which a saturating load meets now and then.
        lost = dict(re.findall(r'synscope_events_lost_total\{reason="(\w+)"\} ([1-9]\d*)', final))
        unseen = int(lost.pop("handshake_unseen", 0))
        check_eq(lost, {}, "no reason but handshake_unseen lost anything")
        check_eq(counts[-1][("client", "established")] + counts[-1][("server", "established")] + unseen,
                 2 * made["connections"], f"ends counted + handshake_unseen ({unseen}) = "
                 "two per connection loadgen made")
        check(counts[-1][("client", "established")] <= made["connections"] and
              counts[-1][("server", "established")] <= made["connections"],
              "no more ends of a role counted than connections", counts[-1], made["connections"])
        check(f"{2 * made['connections'] - unseen} connection ends counted in the kernel" in stderr,
              "the exit summary agrees", stderr[-400:], 2 * made["connections"] - unseen)
