# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""What synscope keeps per socket and per process ends with them, and is counted at exit."""
import os
import subprocess
import tempfile

from harness import (Netns, Tracer, bpf_map_entries, check, check_eq, free_port, handshakes,
                     wait_for_line)

# n clients connect to a listener, which accepts them if told to (argv[3] "accept") or leaves
# them in its accept queue; everything is held open until a line arrives on stdin.
HOLD = r"""
import socket, sys
port, n, accept = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "accept"
srv = socket.socket(); srv.bind(("127.0.0.1", port)); srv.listen(16)
clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
accepted = [srv.accept()[0] for _ in range(n if accept else 0)]
print("holding", flush=True)
sys.stdin.readline()
"""


def stop_while_held(tag, seed, n, accept, args=()):
    """Stops synscope while n connections are held as HOLD holds them; returns
    (its exit status, its records, the tracer, the namespace's inode, the port)."""
    port = free_port(seed)
    with Netns(tag) as ns, tempfile.TemporaryDirectory() as tmp:
        tracer = Tracer(list(args) + ["-P", str(port)], os.path.join(tmp, "out.jsonl"))
        prog = ns.popen(["python3", "-c", HOLD, str(port), str(n), "accept" if accept else "queue"],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            wait_for_line(prog, r"^holding$", 20)
            status, records = tracer.stop()
        finally:
            prog.communicate(input=b"\n", timeout=20)
        return status, records, tracer, ns.inode, port


def test_ends_in_the_accept_queue_at_exit_are_counted():
    n = 3
    status, records, tracer, netns, port = stop_while_held("inflight", 701, n, accept=False)
    check_eq(status, 0, "synscope exit status")
    ends = handshakes(records, netns, port)
    check_eq(sorted(r["role"] for r in ends), ["client"] * n,
             "the clients' records (their connect() returned)")
    stats = records[-1]
    check_eq(stats["type"], "stats", "last record")
    check_eq(stats["in_flight"], n, "children still in the accept queue, counted")
    check("still in their handshake or accept queue" in tracer.stderr,
          "the summary names them", tracer.stderr[-400:], "a line about ends in flight")


def test_established_ends_open_at_exit_are_counted():
    n = 4
    status, records, tracer, netns, port = stop_while_held("openends", 703, n, accept=True,
                                                          args=["--close"])
    check_eq(status, 0, "synscope exit status")
    ends = handshakes(records, netns, port)
    check_eq(len(ends), 2 * n, "both ends' handshake records")
    check_eq([r for r in records if r.get("type") == "close"], [],
             "no close record: no socket was destroyed")
    stats = records[-1]
    check_eq(stats["closes_open"], 2 * n, "established ends still open at exit, counted")
    check(f"{2 * n} established ends not yet closed at exit" in tracer.stderr,
          "the summary names them", tracer.stderr[-400:], "a line about open ends")


# Listens, waits for a line, closes the listener, waits for another line.
LISTEN_THEN_CLOSE = r"""
import socket, sys
srv = socket.socket(); srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(7)
print("listening", flush=True); sys.stdin.readline()
srv.close()
print("closed", flush=True); sys.stdin.readline()
"""


def listener_entries(tracer, ns, port):
    return [e for e in bpf_map_entries(tracer.proc.pid, "listeners")
            if e["key"]["port"] == port and e["key"]["netns"] == ns.inode]


def test_a_closed_listener_leaves_the_listener_map():
    port = free_port(702)
    with Netns("listeners") as ns, tempfile.TemporaryDirectory() as tmp:
        tracer = Tracer(["-P", str(port)], os.path.join(tmp, "out.jsonl"))
        prog = ns.popen(["python3", "-c", LISTEN_THEN_CLOSE, str(port)], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE)
        try:
            wait_for_line(prog, r"^listening$", 20)
            open_entries = listener_entries(tracer, ns, port)
            prog.stdin.write(b"\n")
            prog.stdin.flush()
            wait_for_line(prog, r"^closed$", 20)
            closed_entries = listener_entries(tracer, ns, port)
        finally:
            prog.communicate(input=b"\n", timeout=20)
            tracer.stop()
        check_eq([e["value"]["backlog_req"] for e in open_entries], [7],
                 "the open listener's listen() backlog recorded")
        check_eq(closed_entries, [], "no entry once the listener closed")
