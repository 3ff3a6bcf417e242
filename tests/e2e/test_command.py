# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""`synscope -- CMD` and `synscope demo`: the bundled pair, traced and annotated."""
import json
import os
import re
import subprocess
import tempfile

from harness import (DEMO_CLIENT, DEMO_SERVER, SYNSCOPE, Netns, check, check_accept_waits,
                     check_eq, demo_server, handshakes, parse_kv)

PORT = 8080  # private namespace: nothing else listens there
DELAY_MS = 300


def test_pair_under_one_synscope():
    """Both programs under `synscope -- sh -c`: every connection, both ends, joined."""
    n = 4
    script = (f"{DEMO_SERVER} -p {PORT} -n {n} --accept-delay-ms {DELAY_MS} > $OUT/server & "
              f"until grep -q listening $OUT/server; do sleep 0.05; done; "
              f"{DEMO_CLIENT} -n {n} 127.0.0.1 {PORT} > $OUT/client; rc=$?; wait; exit $rc")
    with Netns("cmd") as ns, tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.jsonl")
        p = ns.run(["env", f"OUT={tmp}", SYNSCOPE, "-f", "jsonl", "-o", out, "--", "sh", "-c",
                    script], stderr=subprocess.PIPE, text=True, timeout=120)
        check_eq(p.returncode, 0, f"synscope -- sh exit status (stderr: {p.stderr!r})")
        check("of pid" in p.stderr, "startup line names the traced process tree", p.stderr, "pid N")
        with open(os.path.join(tmp, "server")) as f:
            server_lines = f.read().splitlines()
        with open(os.path.join(tmp, "client")) as f:
            client_lines = f.read().splitlines()
        with open(out) as f:
            records = [json.loads(line) for line in f]
        recs = handshakes(records, ns.inode, PORT)
    listening = parse_kv(server_lines[0])
    accepted = [parse_kv(x) for x in server_lines if x.startswith("accepted")]
    connected = [parse_kv(x) for x in client_lines if x.startswith("connected")]
    check_eq(len(connected), n, "connections the client reports")
    clients = {r["sport"]: r for r in recs if r["role"] == "client"}
    servers = {r["id"]: r for r in recs if r["role"] == "server"}
    check_eq(len(clients), n, "client records")
    check_eq(len(servers), n, "server records")
    for c in connected:
        port = int(c["local"].rsplit(":", 1)[1])
        rec = clients.get(port)
        check(rec is not None, "a client record for each connection the client made", port,
              sorted(clients))
        check_eq((rec["pid"], rec["tid"], rec["fd"]), (int(c["pid"]), int(c["tid"]), int(c["fd"])),
                 "client record names demo-client's pid, tid and fd")
        s = servers.get(rec["peer"])
        check(s is not None, "client joined to a server record", rec["peer"], "a server id")
        check_eq((s["irs"], s["iss"]), (rec["iss"], rec["irs"]), "ISS/IRS cross-match")
        check_eq(s["pid"], int(listening["pid"]), "server record names demo-server's pid")
    check_eq(sorted(s["fd"] for s in servers.values()), sorted(int(a["fd"]) for a in accepted),
             "server fds are those accept() returned")
    check_accept_waits([s["accept_wait_us"] for s in servers.values()], DELAY_MS)


def test_only_the_command_tree_is_traced():
    """A server outside the traced tree, in the same namespace and port, is not recorded."""
    with Netns("tree") as ns, tempfile.TemporaryDirectory() as tmp:
        with demo_server(ns, ["-p", str(PORT), "-n", "2"]) as (server, _):
            out = os.path.join(tmp, "out.jsonl")
            p = ns.run([SYNSCOPE, "-f", "jsonl", "-o", out, "--", DEMO_CLIENT, "-n", "2",
                        "127.0.0.1", str(PORT)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
            server.communicate(timeout=30)
        check_eq(p.returncode, 0, "synscope -- demo-client exit status")
        with open(out) as f:
            recs = handshakes([json.loads(x) for x in f], ns.inode, PORT)
    check_eq(sorted(r["role"] for r in recs), ["client", "client"], "only the traced client's ends")
    pids = {int(parse_kv(x)["pid"]) for x in p.stdout.splitlines() if x.startswith("connected")}
    check_eq({r["pid"] for r in recs}, pids, "records name the traced client")


def test_command_exit_status_is_returned():
    p = subprocess.run([SYNSCOPE, "--", "false"], capture_output=True, text=True, timeout=60)
    check_eq(p.returncode, 1, "synscope -- false")
    p = subprocess.run([SYNSCOPE, "--", "sh", "-c", "exit 3"], capture_output=True, text=True,
                       timeout=60)
    check_eq(p.returncode, 3, "synscope -- sh -c 'exit 3'")


def test_missing_command_fails_clearly():
    p = subprocess.run([SYNSCOPE, "--", "/nonexistent/cmd"], capture_output=True, text=True,
                       timeout=60)
    check(p.returncode != 0, "synscope -- /nonexistent exits non-zero", p.returncode, "!= 0")
    check("couldn't run '/nonexistent/cmd': No such file or directory" in p.stderr,
          "message names the command and the reason", p.stderr, "couldn't run ...")


def demo(args):
    p = subprocess.run([SYNSCOPE, "demo"] + args, capture_output=True, text=True, timeout=120)
    ladders = re.findall(r"^connection (\S+) -> (\S+): established \(client #\d+, server #\d+\)$",
                         p.stdout, re.M)
    return p, ladders


def test_demo_prints_annotated_handshakes():
    p, ladders = demo(["-n", "3"])
    check_eq(p.returncode, 0, f"synscope demo exit status (stderr {p.stderr!r})")
    check_eq(len(ladders), 3, "ladders of joined connections")
    for what in ("SYN_SENT", "SYN seq=", "SYN-ACK seq=", "ACK ack=", "ESTABLISHED, accept queue",
                 "accept() = fd", "connect() = 0"):
        check_eq(p.stdout.count(what) >= 3, True, f"each ladder shows {what!r}")
    check("NO" not in re.findall(r": (yes|NO)", p.stdout), "the lecture's checks hold",
          re.findall(r".*: NO.*", p.stdout), [])
    checks = re.findall(r"(?:\((?:j|k)\)|ESTABLISHED): (yes|NO)", p.stdout)
    check_eq(checks, ["yes"] * (3 * 4), "the lecture's four checks per connection")


def test_demo_ipv6():
    p, ladders = demo(["ipv6", "-n", "2"])
    check_eq(p.returncode, 0, "synscope demo ipv6 exit status")
    check_eq(len(ladders), 2, "IPv6 ladders")
    check(all(a.startswith("[::1]:") and b == "[::1]:8080" for a, b in ladders),
          "IPv6 addresses in the ladders", ladders, "[::1]")


def test_demo_rejects_unknown_scenario():
    p = subprocess.run([SYNSCOPE, "demo", "nosuch"], capture_output=True, text=True, timeout=30)
    check(p.returncode != 0 and "unknown scenario 'nosuch'" in p.stderr,
          "unknown scenario: non-zero exit and a message", (p.returncode, p.stderr), "non-zero")
