# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Listener records (-i, and at exit) and the summary's listener lines: the queues the kernel
holds, checked against ss and /proc/net/netstat."""
import json
import os
import re
import subprocess
import tempfile
import time

from harness import (SYNSCOPE, Failure, Netns, Tracer, check, check_eq, free_port, ss_drops,
                     ss_listener, tcpext, wait_for_line)

# Listener A never accepts: listen(fd, 2) and five clients at once, so three children fill its
# accept queue (backlog + 1) and the other SYNs are dropped. Listener B gets SYNs from
# 10.9.9.9, an address routed back into loopback and never answered: its SYN-ACKs are
# dropped on the way (no forwarding), the request sockets stay in its SYN queue and the
# SYN-ACKs are retransmitted.
TRAFFIC = r"""
import socket, struct, sys
pa, pb, n, half_open = (int(a) for a in sys.argv[1:5])

def csum(b):
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff

def syn(src, dst, sport, dport):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1000 + sport, 0, 5 << 4, 0x02, 65535, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    return ip[:10] + struct.pack("!H", csum(ip)) + ip[12:] + tcp

a = socket.socket(); a.bind(("127.0.0.1", pa)); a.listen(2)
clients = []
for _ in range(n):
    c = socket.socket(); c.setblocking(False)
    try:
        c.connect(("127.0.0.1", pa))
    except BlockingIOError:
        pass
    clients.append(c)
b = socket.socket(); b.bind(("0.0.0.0", pb)); b.listen(8)
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for i in range(half_open):
    raw.sendto(syn("10.9.9.9", "10.9.9.1", 40000 + i, pb), ("10.9.9.1", 0))
print("ready", flush=True)
sys.stdin.readline()
"""


def syn_recv(ns, port):
    """Request sockets of the listener on port, as ss lists them (state SYN-RECV)."""
    out = ns.run(["ss", "-Htan", "state", "syn-recv", f"sport = :{port}"], capture_output=True,
                 text=True).stdout
    return len(out.splitlines())


def listener_records(path):
    """The listener records written to path so far (the file grows while synscope runs)."""
    with open(path) as f:
        return [r for r in map(json.loads, filter(str.strip, f)) if r.get("type") == "listener"]


def wait_until(what, fn, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise Failure(f"{what}: not within {timeout}s")


def summary_lines(stderr):
    """The summary's listener lines by port: their numbers."""
    lines = {}
    for m in re.finditer(r"listener (\[?[^\s\]]*\]?):(\d+) \(netns (\d+)\) at exit: accept queue "
                         r"(\d+)/(\d+), SYN queue (\d+), drops (\d+), third ACKs dropped on a full "
                         r"queue (\d+|n/a)\b.*SYN-ACK retransmits (\d+)", stderr):
        lines[int(m.group(2))] = {
            "address": m.group(1).strip("[]"), "netns": int(m.group(3)), "acceptq": int(m.group(4)),
            "backlog": int(m.group(5)), "synq": int(m.group(6)), "drops": int(m.group(7)),
            "overflows": None if m.group(8) == "n/a" else int(m.group(8)),
            "synack_retrans": int(m.group(9))}
    return lines


def test_listener_records_match_ss():
    n, half_open = 5, 3
    pa, pb = free_port(901), free_port(902)
    with Netns("listeners") as ns, tempfile.TemporaryDirectory() as tmp:
        ns.run(["ip", "addr", "add", "10.9.9.1/32", "dev", "lo"], check=True)
        ns.run(["ip", "route", "add", "10.9.9.0/24", "dev", "lo"], check=True)
        out = os.path.join(tmp, "out.jsonl")
        tracer = Tracer(["-i", "1", "-P", f"{pa},{pb}"], out, ns=ns)
        traffic = ns.popen(["python3", "-c", TRAFFIC, str(pa), str(pb), str(n), str(half_open)],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            wait_for_line(traffic, r"^ready$", 30)
            # Periodic records show the SYN-ACK retransmits (the first after about 1 s).
            wait_until("a periodic listener record counts B's SYN-ACK retransmits",
                       lambda: [r for r in listener_records(out)
                                if r["port"] == pb and r["synack_retrans"] >= half_open], 20)
            before = {"a": ss_listener(ns, pa), "b": ss_listener(ns, pb), "synq": syn_recv(ns, pb),
                      "drops": ss_drops(ns, pa), "tcpext": tcpext(ns)}
            status, records = tracer.stop()
            after = {"drops": ss_drops(ns, pa), "synq": syn_recv(ns, pb), "tcpext": tcpext(ns)}
        finally:
            if tracer.proc.poll() is None:
                tracer.stop_process()
            traffic.communicate(b"\n", timeout=30)
    check_eq(status, 0, "synscope exit status")
    listeners = [r for r in records if r.get("type") == "listener"]
    check_eq(sorted({r["port"] for r in listeners}), sorted([pa, pb]), "ports with listener records (-P)")
    check_eq(records[-1]["type"], "stats", "the last record")
    at_exit = {r["port"]: r for r in records[-3:-1] if r.get("type") == "listener"}
    check_eq(sorted(at_exit), sorted([pa, pb]), "one listener record per port just before the stats")
    for port in (pa, pb):
        mine = [r for r in listeners if r["port"] == port]
        check(len(mine) >= 3, f"port {port}: periodic records and the one at exit", len(mine), ">= 3")
        check(all(x["ts_ns"] <= y["ts_ns"] for x, y in zip(mine, mine[1:])),
              f"port {port}: records in time order", [r["ts_ns"] for r in mine])
        check_eq({r["netns"] for r in mine}, {ns.inode}, f"port {port}: netns")
    a, b = at_exit[pa], at_exit[pb]
    check_eq((a["acceptq"], a["backlog"]), before["a"], "A's accept queue and backlog = ss -ltn's Recv-Q, Send-Q")
    check_eq(before["a"], (3, 2), "ss: A holds backlog + 1 children")
    check_eq((a["address"], a["synq"]), ("127.0.0.1", 0), "A: address, an empty SYN queue")
    check(before["drops"] <= a["drops"] <= after["drops"], "A's drops = ss -ltnm's d (read before "
          "and after synscope stopped)", a["drops"], f"{before['drops']}..{after['drops']}")
    check(a["drops"] >= n - 3, "A dropped the SYNs beyond its queue", a["drops"], f">= {n - 3}")
    check_eq((b["acceptq"], b["backlog"]), before["b"], "B's accept queue and backlog = ss -ltn")
    check_eq(b["synq"], before["synq"], "B's SYN queue = the request sockets ss lists in SYN-RECV")
    check_eq((before["synq"], after["synq"]), (half_open, half_open), "ss: B's half-open handshakes")
    check_eq(b["address"], "0.0.0.0", "B's address")
    check(half_open <= b["synack_retrans"] <= after["tcpext"]["TCPSynRetrans"],
          "B's SYN-ACK retransmits: one per half-open handshake at least, and among TcpExt "
          "TCPSynRetrans (SYN and SYN-ACK retransmits)", b["synack_retrans"],
          f"{half_open}..{after['tcpext']['TCPSynRetrans']}")
    for r in (a, b):
        if r["overflows"] is not None:
            check(r["overflows"] <= after["tcpext"]["ListenOverflows"], "third-ACK overflows are "
                  "among ListenOverflows", r["overflows"], f"<= {after['tcpext']['ListenOverflows']}")
    said = summary_lines(tracer.stderr)
    for port, r in at_exit.items():
        check_eq(said.get(port), {k: r[k] for k in ("address", "netns", "acceptq", "backlog", "synq",
                                                    "drops", "overflows", "synack_retrans")},
                 f"the summary's line for port {port} = its record at exit")


HOLD = "import socket, sys\ns = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(4)\n" \
       "print('listening', flush=True)\nsys.stdin.readline()\n"


def test_pid_filter_lists_only_its_listeners():
    mine, other = free_port(911), free_port(912)
    with Netns("listenpid") as ns:
        held = [ns.popen(["python3", "-c", HOLD, str(p)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                for p in (mine, other)]
        try:
            for p in held:
                wait_for_line(p, r"^listening$", 30)
            run = ns.run([SYNSCOPE, "-p", str(held[0].pid), "-d", "2", "-i", "1"],
                         capture_output=True, text=True, timeout=60)
        finally:
            for p in held:
                p.communicate(b"\n", timeout=30)
    check_eq(run.returncode, 0, f"synscope exit status ({run.stderr})")
    lines = [l for l in run.stdout.splitlines() if l.startswith("listener ")]
    check(len(lines) >= 2, "text listener lines: every second and at exit", lines, ">= 2")
    check_eq({l.split()[1] for l in lines}, {f"127.0.0.1:{mine}"},
             f"-p {held[0].pid}: only the listener of that process")
    check(all(re.search(rf"netns {ns.inode}: accept queue 0/4, SYN queue 0, drops 0,", l) for l in lines),
          "text listener lines: namespace and queues", lines)
    check_eq(list(summary_lines(run.stderr)), [mine], "the summary lists the same listener")
