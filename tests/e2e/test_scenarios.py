# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Every way a handshake can go, reproduced by `synscope demo SCENARIO` in namespaces it
creates and removes: the outcome type, the errno, SYN retransmissions, queue depths.
Each scenario's connections must appear exactly once, each with one outcome."""
import json
import os
import re
import subprocess
import tempfile

from types import SimpleNamespace

from harness import SYNSCOPE, check, check_eq


def run_demo(scenario, *args, timeout=120):
    """Runs the scenario with -o; returns its stdout and records by type."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "demo.jsonl")
        before = set(subprocess.run(["ip", "netns", "list"], capture_output=True,
                                    text=True).stdout.split())
        p = subprocess.run([SYNSCOPE, "demo", scenario, "-o", out] + list(args),
                           capture_output=True, text=True, timeout=timeout)
        after = set(subprocess.run(["ip", "netns", "list"], capture_output=True,
                                   text=True).stdout.split())
        check(os.path.exists(out), f"synscope demo {scenario} wrote its records", (p.returncode,
              p.stderr[-600:]), "a JSONL file")
        with open(out) as f:
            records = [json.loads(line) for line in f]
    check_eq(sorted(n for n in after - before if n.startswith("synscope-demo")), [],
             f"namespaces left behind by demo {scenario}")
    closes = [(r["id"], r["role"], r["path"], r["errno"]) for r in records if r["type"] == "close"]
    check_eq(p.returncode, 0, f"synscope demo {scenario} exit status (stdout tail "
             f"{p.stdout[-600:]!r}, stderr {p.stderr[-600:]!r}, close records {closes}, "
             f"stats {records[-1] if records else None})")
    check(re.search(r"agrees with the (lecture|answer above): yes", p.stdout),
          "the demo's verdict agrees", p.stdout[-400:], "agrees")
    check_eq(records[-1]["type"], "stats", "the export ends with its stats record")
    check_eq(records[-1]["lost"]["total"], 0, "events lost")
    of = lambda t: [r for r in records if r["type"] == t]  # noqa: E731
    return SimpleNamespace(stdout=p.stdout, ends=of("handshake"), links=of("link"),
                           closes=of("close"), stats=records[-1], records=records)


def clients_of(ends, n):
    clients = [r for r in ends if r["role"] == "client"]
    check_eq(len(clients), n, "client records: each connection exactly once")
    check_eq(len({r["sport"] for r in clients}), n, "distinct client ports")
    return clients


def test_scenario_refused():
    run = run_demo("refused", "-n", "3")
    for c in clients_of(run.ends, 3):
        check_eq((c["outcome"], c["errno"], c["connect_ret"]), ("refused", "ECONNREFUSED", -111),
                 "refused outcome")
        check_eq(c["retrans"], 0, "no SYN retransmission before an RST")
        check(c["connect_us"] < 100000, "refused at once (< 100 ms)", c["connect_us"], "< 100000")


def test_scenario_timeout():
    run = run_demo("timeout", "-n", "2")
    for c in clients_of(run.ends, 2):
        check_eq((c["outcome"], c["errno"], c["connect_ret"]), ("timeout", "ETIMEDOUT", -110),
                 "timeout outcome")
        check(1 <= c["retrans"] <= 6, "SYN retransmissions with TCP_SYNCNT=1", c["retrans"], "1..6")
        check(c["connect_us"] >= 900000, "connect() waited for the retransmissions (>= 0.9 s)",
              c["connect_us"], ">= 900000")
        check_eq(c["irs"], None, "no SYN-ACK, no IRS")
    check("(no answer)" in run.stdout, "the ladder shows the unanswered SYN", run.stdout[-500:],
          "(no answer)")


def test_scenario_unreachable():
    run = run_demo("unreachable", "-n", "2")
    for c in clients_of(run.ends, 2):
        check_eq((c["outcome"], c["errno"], c["connect_ret"]),
                 ("unreachable", "EHOSTUNREACH", -113), "unreachable outcome")
        check_eq(c["daddr"], "10.99.2.3", "destination behind the router")


def test_scenario_backlog():
    n = 5
    run = run_demo("backlog", "-n", str(n), timeout=180)
    ends, stats, links = run.ends, run.stats, run.links
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
    # A record's depth is the count cloned into the child: two handshakes completing at once
    # can both read it from before either was queued (README). The listener, read every
    # second while the server sleeps 1.5 s, shows its own count.
    depths = [s["acceptq"] for s in servers]
    listened = [r["acceptq"] for r in run.records if r["type"] == "listener"]
    check(listened, "listener records every second", len(listened), "some")
    # The kernel tests for a full queue (tcp_v4_syn_recv_sock()) without the listener's lock,
    # before the child is counted: third ACKs handled at once on several CPUs can all pass,
    # at most one per CPU (README).
    deepest, cpus = max(depths + listened), os.sysconf("SC_NPROCESSORS_ONLN")
    check(backlog + 1 <= deepest <= backlog + cpus, "the accept queue filled to backlog + 1 "
          "(+ one per other CPU whose third ACK passed the test at the same time)", deepest,
          f"{backlog + 1}..{backlog + cpus}")
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


def test_scenario_close():
    run = run_demo("close", "-n", "2")
    ends, stats, closes = run.ends, run.stats, run.closes
    check_eq(len(closes), 4, "close records: both ends of both connections")
    by_id = {c["id"]: c for c in closes}
    clients = sorted((r for r in ends if r["role"] == "client"), key=lambda r: r["t_syn_ns"])
    check_eq(len(clients), 2, "client records")
    first, second = clients
    for client, closer in ((first, "client"), (second, "server")):
        c, s = by_id[client["id"]], by_id[client["peer"]]
        check_eq((c["peer"], s["peer"]), (s["id"], c["id"]), "the close records name each other")
        active, passive = (c, s) if closer == "client" else (s, c)
        check_eq(active["closer"], "active", f"{closer} closes first")
        check_eq(passive["closer"], "passive", "the other end closes passively")
        check_eq(active["path"][:2], ["ESTABLISHED", "FIN_WAIT1"], "active path starts with FIN_WAIT1")
        check(active["path"][-1].startswith("TIME_WAIT") and active["time_wait"],
              "the active closer keeps TIME_WAIT", active["path"], "... TIME_WAIT")
        check_eq(passive["path"], ["ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSE"],
                 "passive path CLOSE_WAIT -> LAST_ACK -> CLOSE")
        check(not passive["time_wait"], "no TIME_WAIT on the passive side", passive["time_wait"],
              False)
        check(all(x["lifetime_us"] is not None and x["lifetime_us"] >= 0 for x in (c, s)),
              "lifetimes reported", (c["lifetime_us"], s["lifetime_us"]), ">= 0")
    check_eq((stats["closes"]["time_wait_clients"], stats["closes"]["time_wait_servers"]), (1, 1),
             "TIME_WAIT counts in the stats record")


def test_scenario_reset():
    closes = run_demo("reset", "-n", "2").closes
    check_eq(len(closes), 4, "close records")
    for c in closes:
        expected = "reset-sent" if c["role"] == "client" else "reset-received"
        check_eq(c["closer"], expected, f"{c['role']} close kind")
        check_eq(c["path"], ["ESTABLISHED", "CLOSE"], "straight to CLOSE")
        check(not c["time_wait"], "no TIME_WAIT after an RST", c["time_wait"], False)
    servers = [c for c in closes if c["role"] == "server"]
    check(all(c["rst_received"] and c["errno"] == "ECONNRESET" for c in servers),
          "the server saw the RST (ECONNRESET)", [(c["rst_received"], c["errno"]) for c in servers],
          "RST, ECONNRESET")


def test_scenario_nonblocking():
    run = run_demo("nonblocking")
    clients = sorted((r for r in run.ends if r["role"] == "client"), key=lambda r: r["dport"])
    check_eq([(r["dport"], r["outcome"], r["errno"], r["connect_ret"]) for r in clients],
             [(8080, "established", None, -115), (8081, "refused", "ECONNREFUSED", -115)],
             "both connect() calls returned EINPROGRESS (-115); the outcomes came later")
    servers = [r for r in run.ends if r["role"] == "server"]
    check_eq([(s["accepted"], s["peer"]) for s in servers], [(True, clients[0]["id"])],
             "the established connection was accepted, joined to its client")
    check("connect() = -EINPROGRESS" in run.stdout, "the ladder shows connect()'s return",
          run.stdout[-800:], "connect() = -EINPROGRESS")


def test_scenario_bind():
    run = run_demo("bind")
    clients = [r for r in run.ends if r["role"] == "client"]
    check_eq(sorted((r["sport"], r["daddr"], r["outcome"], r["errno"]) for r in clients),
             [(40000, "127.0.0.1", "error", "EADDRNOTAVAIL"),
              (40000, "127.0.0.1", "established", None),
              (40000, "127.0.0.2", "established", None)],
             "three connects from port 40000: the repeated 4-tuple refused")
    refused = [r for r in clients if r["outcome"] == "error"][0]
    check_eq((refused["connect_ret"], refused["iss"]), (-99, None),
             "the refused connect(): EADDRNOTAVAIL before any SYN")
    servers = [r for r in run.ends if r["role"] == "server"]
    check_eq(sorted((s["sport"], s["saddr"], s["dport"]) for s in servers),
             [(8080, "127.0.0.1", 40000), (8080, "127.0.0.2", 40000)],
             "accepted ends: the listener's port, told apart by the 4-tuple")
    check_eq(len({s["fd"] for s in servers}), 2, "accept() returned a new fd for each")


def check_syn_queue(run, refused_counter):
    """The listener's states (every second) and the namespace's counters of a SYN-queue demo."""
    states = [r for r in run.records if r["type"] == "listener" and r["port"] == 8080]
    check(len(states) >= 2, "listener records every second while the listener lives", len(states), ">= 2")
    deepest = max(r["synq"] for r in states)
    check(deepest in (4, 5), "the SYN queue stops at the backlog (4; 5 where the kernel allows "
          "backlog + 1, as its accept queue does)", deepest, "4 or 5")
    check_eq({(r["acceptq"], r["backlog"], r["address"]) for r in states}, {(0, 4, "0.0.0.0")},
             "the accept queue stays empty")
    check(states[-1]["synack_retrans"] >= deepest, "each half-open handshake's SYN-ACK retransmitted",
          states[-1]["synack_retrans"], f">= {deepest}")
    check_eq(run.stats["netstat"][refused_counter], 8 - deepest,
             f"the SYNs beyond the SYN queue: {refused_counter}")
    check_eq([r for r in run.ends], [], "no connection completed, so no handshake record")


def test_scenario_syn_queue():
    run = run_demo("syn-queue")
    check_syn_queue(run, "listen_drops")
    check_eq(run.stats["netstat"]["syncookies_sent"], 0, "no SYN cookies with tcp_syncookies=0")


def test_scenario_syn_cookies():
    run = run_demo("syn-cookies")
    check_syn_queue(run, "syncookies_sent")
    check_eq(run.stats["netstat"]["listen_drops"], 0, "no SYN dropped with tcp_syncookies=1")


def lost_ack_pair(run):
    """The one connection of a lost-ack demo: (client, server) records, joined."""
    clients = [r for r in run.ends if r["role"] == "client"]
    servers = [r for r in run.ends if r["role"] == "server"]
    check_eq((len(clients), len(servers)), (1, 1), "one client and one server record")
    c, s = clients[0], servers[0]
    check_eq((c["peer"], s["peer"]), (s["id"], c["id"]), "the two ends joined")
    check_eq((c["outcome"], s["outcome"], s["accepted"]), ("established", "established", True),
             "both ends established, the server's accepted")
    check(s["t_syn_ns"] > c["t_ret_ns"], "the server's child was created after the client's "
          "connect() had returned: the third ACK did not make it", (s["t_syn_ns"], c["t_ret_ns"]))
    check_eq((s["iss"], s["irs"]), (c["irs"], c["iss"]), "one handshake: ISS/IRS crossed")
    return c, s


def test_scenario_lost_ack():
    c, s = lost_ack_pair(run_demo("lost-ack"))
    check_eq(s["retrans"], 1, "the server retransmitted its SYN-ACK once; the client's answer "
             "completed the handshake")


def test_scenario_lost_ack_data():
    run = run_demo("lost-ack-data")
    c, s = lost_ack_pair(run)
    check_eq(s["retrans"], 0, "no SYN-ACK retransmission: the client's data completed the handshake")
    check("1 of 1 server children created by the client's data" in run.stdout,
          "the verdict names the data", run.stdout[-600:])
