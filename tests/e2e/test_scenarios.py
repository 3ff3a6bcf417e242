# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Every way a handshake can go, reproduced by `synscope demo SCENARIO` in namespaces it
creates and removes: the outcome type, the errno, SYN retransmissions, queue depths.
Each scenario's connections must appear exactly once, each with one outcome."""
import json
import os
import subprocess
import tempfile

from harness import SYNSCOPE, check, check_eq


def run_demo(scenario, *args, timeout=120):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "demo.jsonl")
        before = set(subprocess.run(["ip", "netns", "list"], capture_output=True,
                                    text=True).stdout.split())
        p = subprocess.run([SYNSCOPE, "demo", scenario, "-o", out] + list(args),
                           capture_output=True, text=True, timeout=timeout)
        after = set(subprocess.run(["ip", "netns", "list"], capture_output=True,
                                   text=True).stdout.split())
        with open(out) as f:
            records = [json.loads(line) for line in f]
    check_eq(sorted(n for n in after - before if n.startswith("synscope-demo")), [],
             f"namespaces left behind by demo {scenario}")
    check_eq(p.returncode, 0, f"synscope demo {scenario} exit status (stdout tail "
             f"{p.stdout[-600:]!r}, stderr {p.stderr[-600:]!r})")
    check("agrees with the lecture: yes" in p.stdout, "the demo's verdict agrees", p.stdout[-400:],
          "agrees")
    check_eq(records[-1]["type"], "stats", "the export ends with its stats record")
    check_eq(records[-1]["lost"]["total"], 0, "events lost")
    ends = [r for r in records if r["type"] == "handshake"]
    links = [r for r in records if r["type"] == "link"]
    return p, ends, records[-1], links


def clients_of(ends, n):
    clients = [r for r in ends if r["role"] == "client"]
    check_eq(len(clients), n, "client records: each connection exactly once")
    check_eq(len({r["sport"] for r in clients}), n, "distinct client ports")
    return clients


def test_scenario_refused():
    _, ends, _, _ = run_demo("refused", "-n", "3")
    for c in clients_of(ends, 3):
        check_eq((c["outcome"], c["errno"], c["connect_ret"]), ("refused", "ECONNREFUSED", -111),
                 "refused outcome")
        check_eq(c["retrans"], 0, "no SYN retransmission before an RST")
        check(c["connect_us"] < 100000, "refused at once (< 100 ms)", c["connect_us"], "< 100000")


def test_scenario_timeout():
    p, ends, _, _ = run_demo("timeout", "-n", "2")
    for c in clients_of(ends, 2):
        check_eq((c["outcome"], c["errno"], c["connect_ret"]), ("timeout", "ETIMEDOUT", -110),
                 "timeout outcome")
        check(1 <= c["retrans"] <= 6, "SYN retransmissions with TCP_SYNCNT=1", c["retrans"], "1..6")
        check(c["connect_us"] >= 900000, "connect() waited for the retransmissions (>= 0.9 s)",
              c["connect_us"], ">= 900000")
        check_eq(c["irs"], None, "no SYN-ACK, no IRS")
    check("(no answer)" in p.stdout, "the ladder shows the unanswered SYN", p.stdout[-500:],
          "(no answer)")


def test_scenario_unreachable():
    _, ends, _, _ = run_demo("unreachable", "-n", "2")
    for c in clients_of(ends, 2):
        check_eq((c["outcome"], c["errno"], c["connect_ret"]),
                 ("unreachable", "EHOSTUNREACH", -113), "unreachable outcome")
        check_eq(c["daddr"], "10.99.2.3", "destination behind the router")


def test_scenario_backlog():
    n = 5
    _, ends, stats, links = run_demo("backlog", "-n", str(n), timeout=180)
    clients = clients_of(ends, n)
    servers = [r for r in ends if r["role"] == "server"]
    check_eq(len(servers), n, "server records: every connection completed eventually")
    # A client whose third ACK was dropped on the full queue is established
    # long before its server end: that join arrives as a "link" record.
    late = {l["client"]: l["server"] for l in links}
    by_id = {r["id"]: r for r in ends}
    for c in clients:
        peer = c["peer"] or late.get(c["id"])
        check(c["outcome"] == "established" and peer in by_id and by_id[peer]["peer"] == c["id"],
              "every client established and joined (directly or by a link record)",
              (c["outcome"], c["peer"], late.get(c["id"])), "joined")
    backlog = servers[0]["backlog"]
    check_eq(backlog, 1, "effective backlog of listen(fd, 1)")
    check_eq(max(s["acceptq"] for s in servers), backlog + 1,
             "the accept queue filled to backlog + 1")
    check(all(s["acceptq"] <= backlog + 1 for s in servers), "never deeper than backlog + 1",
          [s["acceptq"] for s in servers], f"<= {backlog + 1}")
    late = [c for c in clients if c["retrans"] > 0]
    check(len(late) >= n - (backlog + 1) - 1, "clients beyond the queue retransmitted their SYN",
          len(late), f">= {n - backlog - 2}")
    check(all(c["connect_us"] >= 900000 for c in late),
          "a retransmitting client's connect() took >= 0.9 s", [c["connect_us"] for c in late],
          ">= 900000")
    check(stats["netstat"]["listen_overflows"] > 0, "ListenOverflows counted in the demo netns",
          stats["netstat"], "> 0")
    check_eq(stats["syn_retrans"], sum(c["retrans"] for c in clients),
             "stats SYN retransmissions = sum over clients")
