# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Witnesses synscope does not control: the packets on the wire, and the socket table.

tcpdump captures the test's own port inside the test's namespace; its absolute
sequence numbers (-S) must equal synscope's ISS/IRS connection by connection,
and every handshake on the wire must appear exactly once in synscope's records.
`ss -ltn` reads the listener's accept queue (Recv-Q) and backlog (Send-Q) while
the test holds the queue full; synscope's depth and backlog must agree. Ends
synscope recovers from the socket at accept() (their handshake unseen) must
carry the wire's ISS and IRS too.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

from harness import (DEMO_CLIENT, Netns, Tracer, check, check_eq, demo_server, handshakes,
                     parse_kv, wait_for_line)

PORT = 8080

# 12:00:00.000000 IP 127.0.0.1.41234 > 127.0.0.1.8080: Flags [S], seq 123, win ...
SEGMENT = re.compile(r"IP6? (\S+)\.(\d+) > (\S+)\.(\d+): Flags \[([^\]]+)\](?:, seq (\d+))?"
                     r"(?:(?::\d+)?(?:\(\d+\))?)?(?:, ack (\d+))?")


class Capture:
    """tcpdump on lo in a namespace, filtered to one port, absolute sequence numbers."""

    def __init__(self, ns, port, path):
        self.path = path
        # -Z root: Debian's tcpdump drops to user tcpdump, which cannot write here.
        # Only SYNs and RSTs, into a large buffer: a burst must not overrun it.
        self.proc = ns.popen(["tcpdump", "-Z", "root", "--immediate-mode", "-B", "16384", "-i", "lo",
                              "-nn", "-S", "-U", "-w", path,
                              f"tcp port {port} and tcp[tcpflags] & (tcp-syn|tcp-rst) != 0"],
                             stderr=subprocess.PIPE, text=True)
        wait_for_line(self.proc, r"listening on lo", 20, "stderr")

    def stop(self):
        time.sleep(0.3)  # let the last segments reach the capture
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=20)
        dropped = re.search(r"(\d+) packets? dropped by kernel", err)
        check(dropped and dropped.group(1) == "0", "the capture lost no packet", err.strip(),
              "0 packets dropped by kernel")
        out = subprocess.run(["tcpdump", "-r", self.path, "-nn", "-S"], capture_output=True,
                             text=True, check=True).stdout
        segs = []
        for line in out.splitlines():
            m = SEGMENT.search(line)
            if m:
                src, sport, dst, dport, flags, seq, ack = m.groups()
                segs.append(dict(sport=int(sport), dport=int(dport), flags=flags,
                                 seq=int(seq) if seq else None, ack=int(ack) if ack else None))
        return segs


def test_iss_irs_match_the_wire():
    n = 6
    with Netns("wire") as ns, tempfile.TemporaryDirectory() as tmp:
        cap = Capture(ns, PORT, os.path.join(tmp, "cap.pcap"))
        tracer = Tracer(["-P", str(PORT)], os.path.join(tmp, "out.jsonl"))
        with demo_server(ns, ["-p", str(PORT), "-n", str(n)]) as (server, _):
            c = ns.run([DEMO_CLIENT, "-n", str(n), "-c", "2", "127.0.0.1", str(PORT)],
                       stdout=subprocess.PIPE, text=True, timeout=60)
            check_eq(c.returncode, 0, "demo-client exit status")
            server.communicate(timeout=30)
        status, records = tracer.stop()
        segs = cap.stop()
        check_eq(status, 0, "synscope exit status")
        recs = handshakes(records, ns.inode, PORT)

    syns = [s for s in segs if s["flags"] == "S"]
    synacks = [s for s in segs if s["flags"] == "S."]
    check_eq(len(syns), n, "SYNs on the wire (no retransmissions on loopback)")
    check_eq(len(synacks), n, "SYN-ACKs on the wire")
    clients = {r["sport"]: r for r in recs if r["role"] == "client"}
    servers = {r["dport"]: r for r in recs if r["role"] == "server"}
    check_eq(len(clients), n, "client records, one per SYN on the wire")
    check_eq(len(servers), n, "server records, one per SYN-ACK on the wire")
    for syn in syns:
        c = clients.get(syn["sport"])
        check(c is not None, "a client record for each SYN's source port", syn["sport"],
              sorted(clients))
        check_eq(c["iss"], syn["seq"], f"client ISS = SYN seq (port {syn['sport']})")
        check_eq(c["retrans"], 0, "client SYN retransmissions = SYNs on the wire - 1")
    for sa in synacks:
        c, s = clients.get(sa["dport"]), servers.get(sa["dport"])
        check(c is not None and s is not None, "both ends recorded for each SYN-ACK",
              sa["dport"], "recorded")
        check_eq(c["irs"], sa["seq"], f"client IRS = SYN-ACK seq (port {sa['dport']})")
        check_eq(s["iss"], sa["seq"], f"server ISS = SYN-ACK seq (port {sa['dport']})")
        check_eq(sa["ack"], c["iss"] + 1 & 0xFFFFFFFF, "SYN-ACK acknowledges ISS + 1")
        check_eq(s["irs"], c["iss"], "server IRS = client ISS")


def test_refused_matches_rst_on_the_wire():
    with Netns("rst") as ns, tempfile.TemporaryDirectory() as tmp:
        cap = Capture(ns, PORT, os.path.join(tmp, "cap.pcap"))
        tracer = Tracer(["-P", str(PORT)], os.path.join(tmp, "out.jsonl"))
        c = ns.run([DEMO_CLIENT, "-n", "3", "127.0.0.1", str(PORT)], stdout=subprocess.PIPE,
                   text=True, timeout=60)
        status, records = tracer.stop()
        segs = cap.stop()
        recs = handshakes(records, ns.inode, PORT)
    check_eq(c.returncode, 1, "demo-client fails on refused connects")
    rsts = {s["dport"] for s in segs if "R" in s["flags"] and s["sport"] == PORT}
    refused = {r["sport"] for r in recs if r["outcome"] == "refused"}
    check_eq(len(rsts), 3, "RSTs from the closed port on the wire")
    check_eq(refused, rsts, "each refused record matches an RST to its port")


def test_queue_depth_and_backlog_match_ss():
    backlog = 2
    held = backlog + 1  # Linux queues backlog + 1 completed connections
    with Netns("ss") as ns, tempfile.TemporaryDirectory() as tmp:
        tracer = Tracer(["-P", str(PORT)], os.path.join(tmp, "out.jsonl"))
        with demo_server(ns, ["-p", str(PORT), "-b", str(backlog), "-n", str(held),
                              "--accept-delay-ms", "1500"]) as (server, _):
            c = ns.run([DEMO_CLIENT, "-n", str(held), "127.0.0.1", str(PORT)],
                       stdout=subprocess.PIPE, text=True, timeout=30)
            check_eq(c.returncode, 0, "demo-client exit status")
            ss = ns.run(["ss", "-ltnH", f"sport = :{PORT}"], capture_output=True, text=True,
                        check=True).stdout.split()
            server.communicate(timeout=60)
        status, records = tracer.stop()
        recs = handshakes(records, ns.inode, PORT)
    # State Recv-Q Send-Q Local Peer
    recv_q, send_q = int(ss[1]), int(ss[2])
    check_eq((recv_q, send_q), (held, backlog), "ss: queue full while the server sleeps")
    servers = [r for r in recs if r["role"] == "server"]
    check_eq(max(s["acceptq"] for s in servers), recv_q, "synscope's deepest queue = ss Recv-Q")
    check_eq({s["backlog"] for s in servers}, {send_q}, "synscope's backlog = ss Send-Q")


# Listens (backlog 8) and waits for a line on stdin before it accepts N connections; prints
# its pid, then each accepted connection's fd and peer port.
HELD_SERVER = r"""
import os, socket, sys
ls = socket.create_server(("127.0.0.1", int(sys.argv[1])), backlog=8)
print("listening pid=%d" % os.getpid(), flush=True)
sys.stdin.readline()
for _ in range(int(sys.argv[2])):
    c, peer = ls.accept()
    print("accepted fd=%d port=%d" % (c.fileno(), peer[1]), flush=True)
    c.close()
"""

# Three connections: one silent, one that sent 5 bytes, one that sent 3 bytes and its FIN;
# prints "connected", holds them until a line on stdin.
HELD_CLIENTS = r"""
import socket, sys
port = int(sys.argv[1])
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
socks[1].sendall(b"hello")
socks[2].sendall(b"abc")
socks[2].shutdown(socket.SHUT_WR)
print("connected", flush=True)
sys.stdin.readline()
"""


def test_recovered_accepts_match_the_wire():
    """Connections established before synscope started and accepted after it: no program saw
    their handshake, so each accept() writes its end from the socket, marked recovered. ISS and
    IRS must still be the SYN-ACK's and the SYN's sequence numbers, data and a FIN that arrived
    before accept() taken off."""
    n = 3
    with Netns("recover") as ns, tempfile.TemporaryDirectory() as tmp:
        cap = Capture(ns, PORT, os.path.join(tmp, "cap.pcap"))
        server = ns.popen([sys.executable, "-c", HELD_SERVER, str(PORT), str(n)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        clients = None
        try:
            m, _ = wait_for_line(server, r"^listening .*", 10)
            server_pid = int(parse_kv(m.group(0))["pid"])
            clients = ns.popen([sys.executable, "-c", HELD_CLIENTS, str(PORT)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            wait_for_line(clients, r"^connected$", 10)
            tracer = Tracer(["-P", str(PORT)], os.path.join(tmp, "out.jsonl"))
            try:
                out, _ = server.communicate("go\n", timeout=30)
                clients.communicate("done\n", timeout=30)
            finally:
                status, records = tracer.stop()
        finally:
            for p in (server, clients):
                if p and p.poll() is None:
                    p.kill()
                    p.communicate()
        segs = cap.stop()
        check_eq(server.returncode, 0, "server exit status")
        check_eq(status, 0, "synscope exit status")
        recs = handshakes(records, ns.inode, PORT)

    accepted = {int(kv["port"]): int(kv["fd"]) for kv in
                (parse_kv(line) for line in out.splitlines() if line.startswith("accepted"))}
    check_eq(len(accepted), n, "connections the server accepted")
    check_eq([r["role"] for r in recs], ["server"] * n,
             "server records only: the clients' handshakes ended before synscope started")
    syn = {s["sport"]: s["seq"] for s in segs if s["flags"] == "S"}
    synack = {s["dport"]: s["seq"] for s in segs if s["flags"] == "S."}
    for r in recs:
        port = r["dport"]
        check_eq((r.get("recovered"), r["outcome"], r["accepted"], r["accept_hook"]),
                 (True, "established", True, "syscall"), f"end of port {port}: recovered, accepted")
        check_eq((r["pid"], r["fd"]), (server_pid, accepted.get(port)),
                 f"end of port {port}: the accept()'s caller and fd")
        check_eq((r["t_syn_ns"], r["t_end_ns"], r["peer"]), (None, None, None),
                 f"end of port {port}: handshake times and peer unknown")
        check_eq((r["iss"], r["irs"]), (synack.get(port), syn.get(port)),
                 f"end of port {port}: ISS = SYN-ACK seq, IRS = SYN seq on the wire")
    stats = records[-1]
    check_eq((stats["recovered"], stats["lost"]["total"]), (n, 0), "stats: recovered, lost")
