# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""What synscope keeps per socket and per process ends with them, and is counted at exit."""
import collections
import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time

from harness import (LOADGEN, SYNSCOPE, Background, Netns, Tracer, bpf_map_entries, check, check_eq,
                     free_port, handshakes, id_gaps, wait_for_line)

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


@contextlib.contextmanager
def held(ns, port, n, accept):
    """n connections held open by HOLD in ns (accepted or left queued) until the block ends."""
    prog = ns.popen(["python3", "-c", HOLD, str(port), str(n), "accept" if accept else "queue"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        wait_for_line(prog, r"^holding$", 20)
        yield
    finally:
        prog.communicate(input=b"\n", timeout=20)


def stop_while_held(tag, seed, n, accept, args=()):
    """Stops synscope while n connections are held as HOLD holds them; returns
    (its exit status, its records, the tracer, the namespace's inode, the port)."""
    port = free_port(seed)
    with Netns(tag) as ns, tempfile.TemporaryDirectory() as tmp:
        tracer = Tracer(list(args) + ["-P", str(port)], os.path.join(tmp, "out.jsonl"))
        with held(ns, port, n, accept):
            status, records = tracer.stop()
        return status, records, tracer, ns.inode, port


def test_ends_in_the_accept_queue_at_exit_are_written_as_partial_records():
    n = 3
    status, records, tracer, netns, port = stop_while_held("inflight", 701, n, accept=False)
    check_eq(status, 0, "synscope exit status")
    ends = handshakes(records, netns, port)
    clients = [r for r in ends if r["role"] == "client"]
    servers = [r for r in ends if r["role"] == "server"]
    check_eq(len(clients), n, "the clients' records (their connect() returned)")
    check(all("in_flight" not in r for r in clients), "complete records carry no in_flight",
          [r.get("in_flight") for r in clients])
    check_eq(len(servers), n, "a partial record per child still in the accept queue")
    for r in servers:
        check_eq(r["in_flight"], "accept_queue", "where the server end was at exit")
        check_eq((r["outcome"], r["accepted"], r["accept_wait_us"], r["pid"]),
                 ("established", False, None, None), "established, not accepted, no caller yet")
    by_id = {r["id"]: r for r in clients}
    check_eq(sorted(by_id[r["peer"]]["sport"] for r in servers if r["peer"] in by_id),
             sorted(r["dport"] for r in servers), "each joined to its client")
    check_eq(sorted(r["acceptq"] for r in servers), list(range(1, n + 1)),
             "queued one after the other: depths 1..n")
    stats = records[-1]
    check_eq(stats["type"], "stats", "last record")
    check_eq(stats["in_flight"], n, "children still in the accept queue, counted")
    check("still in their handshake or accept queue" in tracer.stderr,
          "the summary names them", tracer.stderr[-400:], "a line about ends in flight")
    check(f"listener port {port} " in tracer.stderr and "3 handshakes, 0 accepted, 0 never accepted"
          in tracer.stderr, "an end still queued is not counted 'never accepted'",
          tracer.stderr[-800:], "3 handshakes, 0 accepted, 0 never accepted")


def test_partial_records_are_captured_and_replayed():
    n, port = 2, free_port(705)
    with Netns("inflightcap") as ns, tempfile.TemporaryDirectory() as tmp:
        cap = os.path.join(tmp, "cap.syn")
        capture = Background(["-w", cap, "-P", str(port)])
        with held(ns, port, n, accept=False):
            status, err = capture.stop_process()
        check_eq(status, 0, f"synscope -w exit status ({err[-300:]!r})")
        p = subprocess.run([SYNSCOPE, "-r", cap, "-f", "jsonl"], capture_output=True, text=True,
                           timeout=60)
        check_eq(p.returncode, 0, f"synscope -r exit status ({p.stderr[-300:]!r})")
        ends = handshakes([json.loads(line) for line in p.stdout.splitlines()], ns.inode, port)
    check_eq(sorted(r.get("in_flight") or "-" for r in ends), ["-"] * n + ["accept_queue"] * n,
             "the capture holds the partial records of the queued children")


# A non-blocking connect() to an address routed into loopback that is not local: the SYN
# leaves and is dropped on the way in (no forwarding), so the socket stays in SYN_SENT.
UNANSWERED = r"""
import socket, sys
s = socket.socket(); s.setblocking(False)
s.connect_ex(("10.9.9.5", int(sys.argv[1])))
print("connecting", s.getsockname()[1], flush=True)
sys.stdin.readline()
"""


def test_a_client_in_syn_sent_at_exit_is_written_as_a_partial_record():
    port = free_port(704)
    with Netns("synsent") as ns, tempfile.TemporaryDirectory() as tmp:
        ns.run(["ip", "route", "add", "10.9.9.0/24", "dev", "lo"], check=True)
        tracer = Tracer(["-P", str(port)], os.path.join(tmp, "out.jsonl"))
        prog = ns.popen(["python3", "-c", UNANSWERED, str(port)], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE)
        try:
            m, _ = wait_for_line(prog, r"^connecting (\d+)$", 20)
            status, records = tracer.stop()
        finally:
            prog.communicate(input=b"\n", timeout=20)
        ends = handshakes(records, ns.inode, port)
    check_eq(status, 0, "synscope exit status")
    check_eq(len(ends), 1, "one record: the connecting client")
    r = ends[0]
    check_eq((r["role"], r["in_flight"], r["outcome"]), ("client", "SYN_SENT", None),
             "a client in SYN_SENT, handshake unresolved")
    check_eq((r["daddr"], r["dport"]), ("10.9.9.5", port), "where it was connecting to")
    check_eq((r["t_end_ns"], r["connect_ret"]), (None, -115),
             "no end yet; connect() returned EINPROGRESS")
    check(r["t_syn_ns"] and r["ts_ns"] == r["t_syn_ns"], "stamped with its SYN_SENT", r)
    check_eq(records[-1]["in_flight"], 1, "counted in flight")


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


def test_every_end_numbered_is_written_when_stopped_under_load():
    """Stopped in the middle of a saturating load, synscope writes every end it numbered:
    complete, or in flight at exit, or counted lost. Each CPU numbers its ends
    (id = n * CPUs + CPU + 1), so the ids of one CPU leave no gap."""
    port = free_port(36)
    with Netns("stopload") as ns, tempfile.TemporaryDirectory() as tmp:
        tracer = Tracer(["-P", str(port)], os.path.join(tmp, "out.jsonl"))
        load = ns.popen([LOADGEN, "-d", "4", "-c", "2", "-p", str(port)], stdout=subprocess.PIPE,
                        text=True)
        try:
            time.sleep(2)
            status, records = tracer.stop(signal.SIGINT)
        finally:
            load.communicate(timeout=60)
        check_eq(status, 0, "synscope exit status")
        check_eq(load.returncode, 0, "loadgen exit status")
    ends = handshakes(records, ns.inode, port)
    lost = records[-1]["lost"]
    check(len(ends) > 2000, "ends recorded under the load", len(ends), "> 2000")
    ids = collections.Counter(e["id"] for e in ends)
    check_eq([i for i, n in ids.items() if n > 1][:5], [], "ids written twice")
    gaps = id_gaps(ends)
    check(len(gaps) <= lost["total"], "every id below a CPU's last is written, but for ends "
          "counted lost", (gaps[:10], len(gaps), lost), f"at most {lost['total']} missing")
