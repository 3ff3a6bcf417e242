#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Overlapping teardown under synscope --close: every connection exact, nothing lost.

One run, in a network namespace of its own: two loadgen instances on two
ports at once, 2 client threads each, connect() then close() as fast as the
machine allows, against a server that accepts and closes; one closes with a
FIN (both ends close at once: overlapping teardown), the other with an RST
(SO_LINGER 0). synscope --close -f jsonl traces both ports. Per connection:
both handshake records, joined; both close records, each with a legal TCP
state path; and `lost` 0.

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
from harness import BUILD, Failure, Netns, Tracer, check, check_eq, free_port  # noqa: E402

LOADGEN = os.path.join(BUILD, "loadgen")

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


def check_port(records, netns, port, load, what, open_at_exit):
    """The records of one loadgen's port against what loadgen counted."""
    ends = [r for r in records if r.get("type") == "handshake" and r["netns"] == netns
            and port in (r["sport"], r["dport"])]
    clients = [r for r in ends if r["role"] == "client" and r["outcome"] == "established"]
    servers = [r for r in ends if r["role"] == "server" and r["outcome"] == "established"]
    check_eq(len(clients), load["connections"], f"{what}: established client records = "
             "connections loadgen made")
    check_eq(len(servers), load["connections"], f"{what}: server records")
    accepted = sum(1 for s in servers if s["accepted"])
    check_eq(accepted, load["accepted"], f"{what}: server records accepted = loadgen's accepts")
    by_id = {r["id"]: r for r in clients + servers}
    unjoined = [c["id"] for c in clients if by_id.get(c["peer"], {}).get("peer") != c["id"]]
    check_eq(unjoined[:5], [], f"{what}: clients not joined both ways to their server end")
    closes = collections.Counter()
    for r in records:
        if r.get("type") == "close" and r["id"] in by_id:
            closes[r["id"]] += 1
            check(legal_path(r["path"]), f"{what}: close record {r['id']} ({r['role']}) has a "
                  "legal TCP state path", r["path"], "a path through the TCP state machine")
    missing = [i for i in by_id if closes[i] != 1]
    check_eq(missing[:5], [], f"{what}: established ends without exactly one close record "
             f"({len(missing)} of {len(by_id)}; {open_at_exit})")


def one_run(seconds, threads=2):
    """Both loads at once under one synscope; raises Failure on any inexact record."""
    ports = {"FIN": free_port(41), "RST": free_port(42)}
    with Netns("stress") as ns, tempfile.TemporaryDirectory() as tmp:
        # FIN closes leave TIME_WAIT behind: let connect() reuse those ports.
        ns.sysctl("net.ipv4.tcp_tw_reuse", 1)
        ns.sysctl("net.ipv4.ip_local_port_range", "1024 65535")
        tracer = Tracer(["--close", "-v", "-P", ",".join(map(str, ports.values()))],
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
        check_eq({k: v for k, v in stats["lost"].items() if v}, {}, f"losses counted ({skips})")
        # An end without a close record is either still open (synscope counts those) or
        # closed unseen: the namespace's own count of TCP sockets tells which.
        open_at_exit = (f"synscope counted {stats['closes_open']} still open at exit; the "
                        f"namespace had TCP sockets {in_use} just before synscope stopped")
        for kind, port in ports.items():
            check_port(records, ns.inode, port, loads[kind], f"{kind} close", open_at_exit)
        return {kind: load["connections"] for kind, load in loads.items()}


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
    print(f"stress: {done} runs exact in {took:.0f}s: {made['FIN']} FIN-closed and "
          f"{made['RST']} RST-closed connections, every handshake and close record, lost 0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
