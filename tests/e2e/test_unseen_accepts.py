# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Accepts the syscall hooks do not show are still accepts.

An io_uring server (IORING_OP_ACCEPT) accepts without accept(2): on a kernel
where fexit/inet_csk_accept loads, fexit sees it with its caller; where it
does not, the record says accepted by a caller no hook saw (accept_hook
"unseen"), never "never accepted". An accept() already blocked when synscope
starts is seen at its return.
"""
import os
import subprocess
import sys
import tempfile

from harness import (BUILD, DEMO_CLIENT, Netns, Tracer, check, check_eq, free_port, handshakes,
                     parse_kv, wait_for_line)

URING_SERVER = os.path.join(BUILD, "uring-server")


def server_records(records, ns, port):
    return [r for r in handshakes(records, ns.inode, port) if r["role"] == "server"]


# Connects, prints "connected", waits for a line on stdin, then closes with an RST (SO_LINGER 0).
RST_CLIENT = r"""
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("connected", flush=True)
sys.stdin.readline()
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
"""


def reset_after_accept(ns, server, port):
    """One connection that the client resets once uring-server has accepted it: the peer's RST
    reaches a child already grafted to a socket. Returns uring-server's 'accepted' line."""
    client = ns.popen([sys.executable, "-c", RST_CLIENT, str(port)], stdin=subprocess.PIPE,
                      stdout=subprocess.PIPE, text=True)
    try:
        wait_for_line(client, r"^connected$", 10)
        m, _ = wait_for_line(server, r"^accepted .*", 10)
        client.communicate("close\n", timeout=10)
    finally:
        if client.poll() is None:
            client.kill()
            client.communicate()
    check_eq(client.returncode, 0, "RST client exit status")
    check(m is not None, "uring-server accepted the RST client", None, "an 'accepted' line")
    return m.group(0)


def test_io_uring_accepts_are_accepted():
    """curl (the server closes first), demo-client (the client's FIN first, then the server's
    close) and clients that reset once accepted (the peer's RST, then the server's close):
    each an accept no syscall hook saw."""
    port = free_port(31)
    n_curl, n_demo, n_rst = 4, 4, 2
    with Netns("uring") as ns, tempfile.TemporaryDirectory() as tmp:
        tracer = Tracer(["-P", str(port)], os.path.join(tmp, "out.jsonl"))
        try:
            server = ns.popen([URING_SERVER, str(port), str(n_curl + n_demo + n_rst)],
                              stdout=subprocess.PIPE, text=True)
            m, _ = wait_for_line(server, r"^listening .*", 10)
            server_pid = int(parse_kv(m.group(0))["pid"])
            reset = [reset_after_accept(ns, server, port) for _ in range(n_rst)]
            for _ in range(n_curl):
                curl = ns.run(["curl", "-sS", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}",
                               f"http://127.0.0.1:{port}/"], capture_output=True, text=True,
                              timeout=30)
                check_eq((curl.returncode, curl.stdout), (0, "200"), "curl against the io_uring server")
            demo = ns.run([DEMO_CLIENT, "-n", str(n_demo), "::1", str(port)],
                          capture_output=True, text=True, timeout=30)
            check_eq(demo.returncode, 0, "demo-client exit status")
            out, _ = server.communicate(timeout=30)
            check_eq(server.returncode, 0, "uring-server exit status")
        finally:
            if server.poll() is None:
                server.kill()
                server.communicate()
            status, records = tracer.stop()
        check_eq(status, 0, "synscope exit status")
        check_eq(records[-1]["lost"]["total"], 0, "events lost")
        accepted = [parse_kv(line) for line in reset + out.splitlines()
                    if line.startswith("accepted")]
        check_eq(len(accepted), n_curl + n_demo + n_rst, "connections uring-server accepted")
        hook = tracer.startup.string
        servers = server_records(records, ns, port)
        check_eq(len(servers), n_curl + n_demo + n_rst, "server records: one per connection")
        for s in servers:
            check_eq((s["accepted"], s["closed_in_queue"]), (True, False),
                     f"server end {s['id']} accepted (not 'never accepted')")
            check(s["accept_hook"] in ("unseen", "fexit"), "io_uring accepts are seen by fexit or "
                  "not at all", s["accept_hook"], "unseen or fexit")
            if s["accept_hook"] == "fexit":
                check_eq(s["pid"], server_pid, "fexit names the io_uring caller")
            else:
                check("syscall tracepoints" in hook, "unseen only where fexit did not load", hook,
                      "syscall accept path")
                check_eq((s["pid"], s["comm"], s["fd"], s["accept_wait_us"]),
                         (None, None, None, None), "an unseen accept has no caller, fd or wait")
            check(s["peer"] is not None, "joined to its client", s["peer"], "an id")


# Blocks in accept() before synscope starts; prints its pid, then the fd accept() returned.
PY_SERVER = r"""
import os, socket, sys
ls = socket.create_server(("127.0.0.1", int(sys.argv[1])))
print("listening pid=%d" % os.getpid(), flush=True)
c, _ = ls.accept()
print("accepted fd=%d" % c.fileno(), flush=True)
c.close()
"""


def test_accept_blocked_before_synscope_started():
    port = free_port(32)
    with Netns("blocked") as ns, tempfile.TemporaryDirectory() as tmp:
        server = ns.popen([sys.executable, "-c", PY_SERVER, str(port)], stdout=subprocess.PIPE,
                          text=True)
        try:
            m, _ = wait_for_line(server, r"^listening .*", 10)
            server_pid = int(parse_kv(m.group(0))["pid"])
            tracer = Tracer(["-P", str(port)], os.path.join(tmp, "out.jsonl"))
            try:
                client = ns.run([DEMO_CLIENT, "127.0.0.1", str(port)], capture_output=True,
                                text=True, timeout=30)
                check_eq(client.returncode, 0, "demo-client exit status")
                m, _ = wait_for_line(server, r"^accepted .*", 10)
                fd = int(parse_kv(m.group(0))["fd"])
                server.wait(timeout=10)
            finally:
                status, records = tracer.stop()
        finally:
            if server.poll() is None:
                server.kill()
            server.communicate()
        check_eq(status, 0, "synscope exit status")
        servers = server_records(records, ns, port)
        check_eq(len(servers), 1, "server records")
        s = servers[0]
        check_eq((s["accepted"], s["pid"], s["fd"]), (True, server_pid, fd),
                 "the blocked accept() is seen at its return, with its caller and fd")
        check_eq(s["t_call_ns"], None, "its entry, before synscope started, is unknown")
