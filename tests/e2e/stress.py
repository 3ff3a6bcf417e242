#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Overlapping teardown under synscope --close: every connection exact, every loss counted.

One run, in a network namespace of its own: two loadgen instances on two
ports at once, 2 client threads each, connect() then close() as fast as the
machine allows, against a server that accepts and closes; one closes with a
FIN (both ends close at once: overlapping teardown), the other with an RST
(SO_LINGER 0). synscope --close -f jsonl traces both ports. Per connection:
both handshake records, joined (a join that came late as a link record);
both close records, each with a legal TCP state path; `lost` 0 but for
sock_stale and close_unseen, ends of sockets the kernel freed unreported
(README, "What the kernel does not let synscope see"), which must account
for every missing handshake record and, with the ends still open at exit,
every missing close record.

Usage: stress.py [--budget SECONDS] [--seconds LOAD_SECONDS] [--runs N]
(`make stress`: up to 2 minutes; `make test` runs a short form, test_stress.py).
Exit status 0 when every run was exact.
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (LOADGEN, Failure, Netns, Tracer, check, check_eq, free_port,  # noqa: E402
                     id_gaps)

# Kernel TCP state changes an established end may make (RFC 9293 3.3.2 and
# Linux's own: FIN_WAIT1 -> CLOSE is tcp_time_wait() after FIN and ACK at once,
# any state -> CLOSE on an RST).
NEXT = {
    "ESTABLISHED": {"FIN_WAIT1", "CLOSE_WAIT", "CLOSE"},
    "FIN_WAIT1": {"FIN_WAIT2", "CLOSING", "CLOSE"},
    "FIN_WAIT2": {"CLOSE"},
    "CLOSING": {"CLOSE"},
    "CLOSE_WAIT": {"LAST_ACK", "CLOSE"},
    "LAST_ACK": {"CLOSE"},
}


def state_of(step):
    """'TIME_WAIT' and 'TIME_WAIT(FIN_WAIT2)' are the CLOSE of a hand-over to TIME_WAIT."""
    return "CLOSE" if step.startswith("TIME_WAIT") else step


def legal_path(path):
    states = [state_of(s) for s in path]
    if len(states) < 2 or states[0] != "ESTABLISHED" or states[-1] != "CLOSE":
        return False
    return all(b in NEXT.get(a, ()) for a, b in zip(states, states[1:]))


def tcp_in_use(ns):
    """TCP sockets hashed in the namespace, orphans among them (/proc/net/sockstat)."""
    out = ns.run(["cat", "/proc/net/sockstat"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("TCP:"):
            kv = line.split()[1:]
            return {k: int(v) for k, v in zip(kv[::2], kv[1::2]) if k in ("inuse", "orphan")}
    return {}


def check_port(records, netns, port, load, what):
    """The records of one loadgen's port against what loadgen counted. Returns the number of
    handshake records short of two per connection (ends lost to a stale socket entry, which
    the caller checks against sock_stale) and the ids of established ends without a close
    record."""
    ends = [r for r in records if r.get("type") == "handshake" and r["netns"] == netns
            and port in (r["sport"], r["dport"])]
    clients = [r for r in ends if r["role"] == "client" and r["outcome"] == "established"]
    servers = [r for r in ends if r["role"] == "server" and r["outcome"] == "established"]
    short = 2 * load["connections"] - len(clients) - len(servers)
    if short:
        others = collections.Counter((r["role"], r["outcome"], r.get("in_flight")) for r in ends
                                     if r["outcome"] != "established")
        print(f"stress: {what}: {load['connections']} connections ({load['accepted']} accepted), "
              f"{len(clients)} established client records, {len(servers)} server records "
              f"({sum(1 for s in servers if s['accepted'])} accepted, "
              f"{sum(1 for s in servers if s.get('recovered'))} recovered); others {dict(others)}",
              file=sys.stderr)
        # The ends whose other end has no record, for the next look (at most 3 each way).
        key = {"client": lambda r: (r["sport"], r["dport"], r["iss"], r["irs"]),
               "server": lambda r: (r["dport"], r["sport"], r["irs"], r["iss"])}
        for mine, theirs in ((clients, servers), (servers, clients)):
            have = {key[r["role"]](r) for r in theirs}
            for r in [r for r in mine if key[r["role"]](r) not in have][:3]:
                print(f"stress: {what}: no peer record for {json.dumps(r)}", file=sys.stderr)
                # Other ends of any port or namespace whose handshake ended within 1 ms
                # of its own (ts_ns: a recovered end's syscall return, its end unknown):
                # a peer written with wrong ports or netns would be among them.
                near = [o for o in records if o.get("type") == "handshake" and
                        o["role"] != r["role"] and abs(o["ts_ns"] - r["ts_ns"]) < 1000000]
                elsewhere = [o for o in near
                             if o["netns"] != netns or port not in (o["sport"], o["dport"])]
                print(f"stress: {what}: {len(near)} other-role records ended within 1 ms, "
                      f"{len(elsewhere)} of them off this port: {json.dumps(elsewhere[:3])}",
                      file=sys.stderr)
    check(len(clients) <= load["connections"] and len(servers) <= load["connections"],
          f"{what}: no more handshake records than connections", (len(clients), len(servers)),
          f"<= {load['connections']} each")
    accepted = sum(1 for s in servers if s["accepted"])
    check(0 <= load["accepted"] - accepted <= load["connections"] - len(servers),
          f"{what}: server records accepted = loadgen's accepts, but for server records lost",
          accepted, load["accepted"])
    # loadgen's server accepts with accept(): a peer's RST or FIN landing before the syscall's
    # exit hook must not make its end "accepted unseen" (caller unknown).
    check_eq([s["id"] for s in servers if s["accept_hook"] == "unseen"][:5], [],
             f"{what}: server ends accepted by accept() with an unknown caller")
    by_id = {r["id"]: r for r in clients + servers}
    # A join found after one of the two records was written is a link record of its own,
    # which stands for the `peer` that record lacks.
    late = {r["client"]: r["server"] for r in records if r.get("type") == "link"}

    def joined(c):
        s = by_id.get(c["peer"] or late.get(c["id"]))
        return s is not None and (s["peer"] == c["id"] or late.get(c["id"]) == s["id"])

    unjoined = [c["id"] for c in clients if not joined(c)]
    check(len(unjoined) <= load["connections"] - len(servers),
          f"{what}: clients joined both ways to their server end, but for server records lost",
          unjoined[:5], f"at most {load['connections'] - len(servers)}")
    closes = collections.Counter()
    for r in records:
        if r.get("type") == "close" and r["id"] in by_id:
            closes[r["id"]] += 1
            check(legal_path(r["path"]), f"{what}: close record {r['id']} ({r['role']}) has a "
                  "legal TCP state path", r["path"], "a path through the TCP state machine")
    check_eq([i for i in by_id if closes[i] > 1][:5], [], f"{what}: ends with two close records")
    return short, [i for i in by_id if closes[i] != 1]


def one_run(seconds, threads=2):
    """Both loads at once under one synscope; raises Failure on any inexact record."""
    ports = {"FIN": free_port(41), "RST": free_port(42)}
    with Netns("stress") as ns, tempfile.TemporaryDirectory() as tmp:
        # FIN closes leave TIME_WAIT behind: let connect() reuse those ports.
        ns.sysctl("net.ipv4.tcp_tw_reuse", 1)
        ns.sysctl("net.ipv4.ip_local_port_range", "1024 65535")
        # The two loadgens start at once: one's clients must not take the other's listening
        # port as their source port before it binds it (EADDRINUSE, seen in the 6.1 VM).
        ns.sysctl("net.ipv4.ip_local_reserved_ports", ",".join(map(str, ports.values())))
        # A 64 MiB ring buffer: this checks the accounting of overlapping teardown, not the
        # default buffer against a slow consumer (the ASAN build's overflowed it once).
        tracer = Tracer(["--close", "-v", "--ringbuf-size", str(64 << 20), "-P",
                         ",".join(map(str, ports.values()))],
                        os.path.join(tmp, "out.jsonl"))
        try:
            procs = {kind: ns.popen([LOADGEN, "-d", str(seconds), "-c", str(threads), "-p",
                                     str(port)] + (["-F"] if kind == "FIN" else []),
                                    stdout=subprocess.PIPE, text=True)
                     for kind, port in ports.items()}
            loads = {}
            for kind, p in procs.items():
                out, _ = p.communicate(timeout=seconds + 60)
                check_eq(p.returncode, 0, f"loadgen ({kind}) exit status")
                loads[kind] = json.loads(out)
            # Let the last FIN handshakes and destroys finish before stopping.
            time.sleep(0.5)
            in_use = tcp_in_use(ns)
        finally:
            status, records = tracer.stop()
        check_eq(status, 0, "synscope exit status")
        stats = records[-1]
        check_eq(stats["type"], "stats", "last record")
        skips = [line for line in tracer.stderr.splitlines() if "skipped" in line or "fallback" in line]
        # Sockets the kernel freed without reporting their destruction (README, "What the
        # kernel does not let synscope see") are counted when a new socket takes their
        # address: a handshake still under construction as sock_stale, an established end's
        # close as close_unseen. Every other loss fails the run.
        lost = stats["lost"]
        stale, unseen = lost["sock_stale"] + lost["handshake_unseen"], lost["close_unseen"]
        check_eq({k: v for k, v in lost.items()
                  if v and k not in ("total", "sock_stale", "handshake_unseen", "close_unseen",
                                     "late_joins")},
                 {}, f"losses counted ({skips})")
        # A late join loses nothing: it is written as a link record of its own.
        check_eq(sum(1 for r in records if r.get("type") == "link"), lost["late_joins"],
                 "link records = late_joins")
        short, missing = 0, []
        for kind, port in ports.items():
            s, m = check_port(records, ns.inode, port, loads[kind], f"{kind} close")
            short, missing = short + s, missing + m
        # Every handshake record missing is a counted stale entry. The converse does not
        # always hold: once in eight host runs an entry was counted stale with no record
        # missing (an over-count, not a loss; a creation event handled twice, by a primary
        # and its fallback, is a candidate), so the count may exceed what is missing.
        partial = [(r["role"], r["in_flight"], r["outcome"]) for r in records
                   if r.get("type") == "handshake" and "in_flight" in r]
        # An end numbered and never written was created and then lost; a record short
        # without a gap was never created.
        gaps = id_gaps([r for r in records if r.get("type") == "handshake"])
        check(len(gaps) <= stale, f"ids handed out and never written are counted stale entries "
              f"({gaps[:5]})", len(gaps), f"<= {stale}")
        check(short <= stale, "handshake records short of two per connection are counted as "
              f"stale entries (nested_handled {stats['nested_handled']}, {skips}, lost {lost}, in flight "
              f"at exit {stats['in_flight']}: {partial[:5]}; ids never written {gaps[:5]})", short,
              f"<= {stale}")
        # An established end without a close record: its close unreported (close_unseen; one
        # whose handshake record went stale too is counted there without being missed here),
        # or still open for synscope at exit (closes_open; the namespace's own socket count
        # tells whether it really was).
        accounted = unseen + stats["closes_open"]
        check(len(missing) <= accounted <= len(missing) + stale,
              f"established ends without a close record ({missing[:5]}) are the kernel's "
              f"unreported closes ({unseen}) and ends open at exit ({stats['closes_open']}; the "
              f"namespace had TCP sockets {in_use} just before synscope stopped)",
              len(missing), accounted)
        made = {kind: load["connections"] for kind, load in loads.items()}
        made["close_unseen"] = unseen + stats["closes_open"]
        made["sock_stale"] = stale
        made["sock_stale_overcount"] = stale - short
        made["recovered"] = stats["recovered"]
        return made


def stress(budget, seconds, runs=None):
    """Runs until runs are done or the budget (seconds) would be exceeded; returns a summary."""
    start, done, made = time.monotonic(), 0, collections.Counter()
    while runs is None or done < runs:
        elapsed = time.monotonic() - start
        if done and elapsed / done + elapsed > budget:
            break
        made.update(one_run(seconds))
        done += 1
    return done, made, time.monotonic() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget", type=float, default=120, help="stop before this many seconds")
    ap.add_argument("--seconds", type=float, default=3, help="load per run, seconds")
    ap.add_argument("--runs", type=int, default=None, help="at most this many runs")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("stress: needs root (BPF, network namespaces)")
        return 1
    try:
        done, made, took = stress(args.budget, args.seconds, args.runs)
    except Failure as e:
        print(f"stress: FAIL: {e}")
        return 1
    print(f"stress: {done} runs in {took:.0f}s: {made['FIN']} FIN-closed and {made['RST']} "
          f"RST-closed connections, every record exact but {made['sock_stale']} handshakes and "
          f"{made['close_unseen']} closes of sockets the kernel freed unreported (counted; "
          f"{made['sock_stale_overcount']} stale entries without a missing record), "
          f"{made['recovered']} ends recovered at connect()/accept() or at their listener's "
          f"close (their handshake unreported), no other loss")
    return 0


if __name__ == "__main__":
    sys.exit(main())
