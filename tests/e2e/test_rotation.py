# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""-o FILE under log rotation: SIGHUP reopens the path, nothing is lost or written twice."""
import json
import os
import signal
import tempfile
import time

from harness import Netns, Tracer, check, check_eq, free_port, handshakes

CONNECT = r"""
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(16)
c = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
a = [s.accept()[0] for _ in range(n)]
"""


def records_in(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def wait_for(what, cond, timeout=10):
    deadline = time.monotonic() + timeout
    while not cond():
        check(time.monotonic() < deadline, what, None, f"within {timeout}s")
        time.sleep(0.05)


def test_sighup_reopens_the_output_file():
    port = free_port(901)
    with Netns("rotate") as ns, tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "conns.jsonl")
        rotated = out + ".1"
        tracer = Tracer(["-P", str(port)], out)
        try:
            ns.run(["python3", "-c", CONNECT, str(port), "3"], check=True)
            wait_for("the first 6 records written", lambda: len(records_in(out)) == 6)
            os.rename(out, rotated)  # what logrotate does, before it signals
            tracer.proc.send_signal(signal.SIGHUP)
            wait_for("synscope reopened the path", lambda: os.path.exists(out))
            ns.run(["python3", "-c", CONNECT, str(port), "4"], check=True)
        finally:
            status, records = tracer.stop()
        check_eq(status, 0, "synscope exit status (SIGHUP did not stop it)")
        before = handshakes(records_in(rotated), ns.inode, port)
        after = handshakes(records, ns.inode, port)
        check_eq(len(before), 6, "the rotated file: the 3 connections before SIGHUP, both ends")
        check_eq(len(after), 8, "the new file: the 4 connections after it, both ends")
        check_eq(set(r["id"] for r in before) & set(r["id"] for r in after), set(),
                 "no record in both files")
        check_eq(records[-1]["type"], "stats", "the new file ends with the stats record")
