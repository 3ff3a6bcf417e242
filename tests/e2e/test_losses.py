# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Losses provoked on purpose are counted, one for one.

A ring buffer too small for the load, or a socket map too small for the
connections waiting in an accept queue, must cost records only as the
counters say: records written plus losses counted equal the connection
ends that were made (two per connection), and nothing else is lost.
"""
import json
import os
import subprocess
import tempfile
import time

from harness import LOADGEN, Netns, Tracer, check, check_eq, free_port, handshakes

# Listens, connects N clients while accepting none (they wait in the accept
# queue, each server end holding a socket-map entry), then accepts and
# closes them all; prints how many connections were made and accepted.
QUEUE_FILLER = r"""
import json, socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
srv = socket.socket()
srv.bind(("127.0.0.1", port))
srv.listen(n + 16)
clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
accepted = [srv.accept()[0] for _ in range(n)]
for s in clients + accepted + [srv]:
    s.close()
print(json.dumps({"connections": len(clients), "accepted": len(accepted)}))
"""


def traced(tag, synscope_args, argv, env=None):
    """Runs argv (its last line: JSON counts) in a netns under synscope filtered to
    the test's port; returns (counts, handshake records of the port, stats record)."""
    port = free_port(hash(tag) % 1000 + 2000)
    with Netns(tag) as ns, tempfile.TemporaryDirectory() as tmp:
        tracer = Tracer(["-P", str(port)] + synscope_args, os.path.join(tmp, "out.jsonl"),
                        env=env)
        try:
            p = ns.run([a.replace("PORT", str(port)) for a in argv], capture_output=True,
                       text=True, timeout=60)
            check_eq(p.returncode, 0, f"{argv[0]} exit status ({p.stderr.strip()})")
            counts = json.loads(p.stdout.strip().splitlines()[-1])
            time.sleep(0.3)  # the last ends' destroys
        finally:
            status, records = tracer.stop()
        check_eq(status, 0, "synscope exit status")
        stats = records[-1]
        check_eq(stats["type"], "stats", "last record")
        return counts, handshakes(records, ns.inode, port), stats


def check_accounted(counts, ends, stats, reason):
    """Two ends per connection made, one (the client's) per connect() that failed."""
    lost = stats["lost"]
    check(lost[reason] > 0, f"the load provoked {reason} losses", lost[reason], "> 0")
    others = {k: v for k, v in lost.items() if v and k not in (reason, "total")}
    check_eq(others, {}, f"no losses but {reason}")
    made = 2 * counts["connections"] + counts.get("failed", 0)
    partial = [r for r in ends if "in_flight" in r]
    check_eq(len(partial), stats["in_flight"], "a partial record per end in flight at exit")
    check_eq(len(ends) + lost[reason], made,
             f"records ({len(ends)}, {len(partial)} of them partial) + {reason} "
             f"({lost[reason]}) = ends made ({counts})")
    check_eq(lost["total"], lost[reason], "lost.total")


def test_ring_buffer_too_small():
    # 4 KiB of ring buffer, read once a second, waking synscope only when
    # nearly full: a second of loadgen overflows it many times over.
    counts, ends, stats = traced("ringbuf", ["--ringbuf-size", "4096", "--wakeup-bytes", "4000",
                                             "--poll-ms", "1000"],
                                 [LOADGEN, "-d", "1", "-c", "2", "-p", "PORT"])
    check_accounted(counts, ends, stats, "ringbuf_full")


def test_socket_map_too_small():
    # 64 entries (the least --max-sockets takes), 100 connections waiting
    # in the accept queue at once: the ends that find the map full get no
    # record, and each is counted.
    counts, ends, stats = traced("sockmap", ["--max-sockets", "64"],
                                 ["python3", "-c", QUEUE_FILLER, "PORT", "100"])
    check_eq(counts, {"connections": 100, "accepted": 100}, "what the queue filler did")
    check_accounted(counts, ends, stats, "sock_map_full")


# --max-sockets 64: 8 sets of 7 slots, and 8 overflow entries. With every
# socket in one set (SYNSCOPE_TEST_ONE_SET), that set and the overflow map
# hold 15 ends.
ONE_SET = {"SYNSCOPE_TEST_ONE_SET": "1"}


def test_a_full_set_overflows_without_loss():
    # 12 children in the accept queue at once: 7 in the set, 5 in the
    # overflow map, every end written.
    counts, ends, stats = traced("oneset", ["--max-sockets", "64"],
                                 ["python3", "-c", QUEUE_FILLER, "PORT", "12"], ONE_SET)
    check_eq(counts, {"connections": 12, "accepted": 12}, "what the queue filler did")
    check_eq({k: v for k, v in stats["lost"].items() if v}, {}, "losses")
    check_eq(len([r for r in ends if r["role"] == "client"]), 12, "client records")
    check_eq(len([r for r in ends if r["role"] == "server" and r["accepted"]]), 12,
             "accepted server records")


def test_a_full_set_and_overflow_count_their_losses():
    # 30 children waiting: the set and the overflow map take 15 ends at most.
    counts, ends, stats = traced("oneset-full", ["--max-sockets", "64"],
                                 ["python3", "-c", QUEUE_FILLER, "PORT", "30"], ONE_SET)
    check_eq(counts, {"connections": 30, "accepted": 30}, "what the queue filler did")
    check_accounted(counts, ends, stats, "sock_map_full")
