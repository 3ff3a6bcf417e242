# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""-w FILE captures raw records, -r FILE replays them: the same records as a live run."""
import json
import os
import signal
import subprocess
import tempfile
import time

from harness import (DEMO_CLIENT, DEMO_SERVER, SYNSCOPE, Background, Failure, Netns, Tracer,
                     check, check_eq, free_port, handshakes, parse_kv)


def header_len(data):
    """The capture header's own header_len field (u32 at byte 16, host order)."""
    return int.from_bytes(data[16:20], "little")


def frames(data):
    """(byte offset, record type) of each frame, walked by the frames' own lengths."""
    off, out = header_len(data), []
    while off + 10 <= len(data):
        size = int.from_bytes(data[off:off + 4], "little")
        out.append((off, int.from_bytes(data[off + 8:off + 10], "little")))
        off += 8 + (size + 7) // 8 * 8
    return out


HANDSHAKE, TRAILER = 1, 0x5354  # record types: bpf/synscope.h, user/capture.h

# A Python client as event loops make them: non-blocking connect(), poll, SO_ERROR.
PY_CLIENT = """
import select, socket, sys
for _ in range(int(sys.argv[2])):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", int(sys.argv[1])))
    select.select([], [s], [], 5)
    assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
    print(s.getsockname()[1], flush=True)
    s.close()
"""


class Capture(Background):
    """build/synscope -w FILE in the background."""

    def __init__(self, args, path, ns=None):
        super().__init__(["-w", path] + list(args), ns)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Stops synscope; returns (exit status, its stderr)."""
        return self.stop_process(sig, timeout)


def replay(args, **kw):
    return subprocess.run([SYNSCOPE, "-r"] + list(args), capture_output=True, text=True,
                          timeout=60, **kw)


def jsonl(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def wait_listening(ns, port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ns.run(["python3", "-c", f"import socket; socket.create_connection(('127.0.0.1', {port}), 1)"],
                  stderr=subprocess.DEVNULL).returncode == 0:
            return
        time.sleep(0.1)
    raise Failure(f"nothing listens on port {port} after {timeout}s")


def traffic(ns, port, n_curl=3, n_py=3):
    """curl and a non-blocking Python client against python's http.server: local ports made."""
    ports = []
    for _ in range(n_curl):
        p = ns.run(["curl", "-s", "-o", "/dev/null", "-w", "%{local_port}\n",
                    f"http://127.0.0.1:{port}/"], capture_output=True, text=True, timeout=30)
        check_eq(p.returncode, 0, "curl exit status")
        ports.append(int(p.stdout.split()[0]))
    p = ns.run(["python3", "-c", PY_CLIENT, str(port), str(n_py)], capture_output=True, text=True,
               timeout=30)
    check_eq(p.returncode, 0, f"python client exit status ({p.stderr.strip()})")
    ports += [int(x) for x in p.stdout.split()]
    return ports


def capture_run(tmp, tag):
    """Traffic traced by a live JSONL synscope and a -w synscope at once.
    Returns (capture path, live records, client ports, netns inode, port, -w stderr)."""
    port = free_port(hash(tag) % 1000)
    cap = os.path.join(tmp, "cap.syn")
    with Netns(tag) as ns:
        server = ns.popen(["python3", "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_listening(ns, port)
            live = Tracer(["-P", str(port)], os.path.join(tmp, "live.jsonl"))
            try:
                capture = Capture(["-P", str(port)], cap)
                try:
                    ports = traffic(ns, port)
                    time.sleep(0.3)
                finally:
                    status, err = capture.stop()
            finally:
                live_status, records = live.stop()
        finally:
            server.kill()
            server.communicate()
        check_eq(status, 0, f"synscope -w exit status (stderr: {err!r})")
        check_eq(live_status, 0, "live synscope exit status")
        # The warm-up probe of wait_listening made one connection before tracing began.
        return cap, handshakes(records, ns.inode, port), ports, ns.inode, port, err


def key(r):
    return (r["role"], r["saddr"], r["sport"], r["daddr"], r["dport"])


def test_replay_equals_live():
    with tempfile.TemporaryDirectory() as tmp:
        cap, live, ports, inode, port, err = capture_run(tmp, "cap")
        check("wrote " in err and "records" in err and "lost: 0" in err,
              "-w reports the records written and the losses", err, "wrote N records, lost: 0")
        p = replay([cap, "-f", "jsonl"])
        check_eq(p.returncode, 0, f"synscope -r exit status (stderr: {p.stderr!r})")
        check("reading " in p.stderr and "accept path" in p.stderr,
              "-r says where the capture comes from", p.stderr, "reading FILE: ...")
        records = jsonl(p.stdout)
    replayed = handshakes(records, inode, port)
    clients = sorted(r["sport"] for r in replayed if r["role"] == "client")
    check_eq(clients, sorted(ports), "replayed client ends are the connections the clients made")
    servers = sorted(r["dport"] for r in replayed if r["role"] == "server")
    check_eq(servers, sorted(ports), "replayed server ends are the same connections")
    by_key = {key(r): r for r in live}
    check_eq(sorted(by_key), sorted(key(r) for r in replayed), "same connection ends as live")
    ids = {}
    for r in replayed:
        lv = by_key[key(r)]
        for field in ("outcome", "iss", "irs", "pid", "tid", "fd", "comm", "acceptq", "backlog",
                      "retrans", "errno"):
            check_eq(r.get(field), lv.get(field), f"replayed {r['role']} {r['sport']} {field} equals live")
        ids[r["id"]] = lv["id"]
    for r in replayed:
        check(r["peer"] is not None and ids.get(r["peer"]) == by_key[key(r)]["peer"],
              "replayed peer is the same end as live's", r["peer"], by_key[key(r)]["peer"])
    stats = records[-1]
    check_eq(stats["type"], "stats", "last replayed record is the stats record")
    check_eq(stats["lost"]["total"], 0, "replayed loss count from the trailer")
    check_eq(stats["ends"], len(replayed), "stats count the replayed ends")


def test_truncated_capture_prints_what_precedes_the_cut():
    with tempfile.TemporaryDirectory() as tmp:
        cap, live, ports, inode, port, _ = capture_run(tmp, "cut")
        with open(cap, "rb") as f:
            data = f.read()
        fr = frames(data)
        hs = [off for off, typ in fr if typ == HANDSHAKE]
        check(len(hs) >= 4, "capture holds the records", len(hs), ">= 4")
        check_eq(fr[-1][1], TRAILER, "the capture ends with its trailer")
        cut_frame = hs[2]
        cut = os.path.join(tmp, "cut.syn")
        with open(cut, "wb") as f:
            f.write(data[:cut_frame + 50])
        p = replay([cut, "-f", "jsonl"])
        check(p.returncode != 0, "a truncated capture exits non-zero", p.returncode, "!= 0")
        check(f"corrupt record at byte {cut_frame}:" in p.stderr,
              "the error names the frame's byte offset", p.stderr, f"byte {cut_frame}")
        records = jsonl(p.stdout)
        check_eq(len(handshakes(records, inode, port)), 2, "records before the cut are printed")
        check_eq(records[-1]["type"], "stats", "the stats record still ends the output")
        check(records[-1]["lost"]["total"] is None, "loss counts unknown without the trailer",
              records[-1]["lost"]["total"], None)

        # Cut at a frame boundary, just before the trailer: every record, no trailer.
        with open(cut, "wb") as f:
            f.write(data[:fr[-1][0]])
        p = replay([cut, "-f", "jsonl"])
        check(p.returncode != 0 and "capture ended without its trailer" in p.stderr,
              "a capture without its trailer is reported", (p.returncode, p.stderr), "non-zero")
        check_eq(len(handshakes(jsonl(p.stdout), inode, port)), len(hs),
                 "every record before the missing trailer is printed")

        # From stdin, too.
        with open(cap, "rb") as f:
            p = subprocess.run([SYNSCOPE, "-r", "-", "-f", "jsonl"], stdin=f, capture_output=True,
                               text=True, timeout=60)
        check_eq(p.returncode, 0, f"-r - exit status ({p.stderr!r})")
        check_eq(len(handshakes(jsonl(p.stdout), inode, port)), len(hs), "records read from stdin")


def test_replay_timeline_without_root():
    with tempfile.TemporaryDirectory() as tmp:
        cap, live, ports, inode, port, _ = capture_run(tmp, "tl")
        os.chmod(tmp, 0o755)
        os.chmod(cap, 0o644)
        p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            SYNSCOPE, "-r", cap, "--timeline"], capture_output=True, text=True,
                           timeout=60)
    check_eq(p.returncode, 0, f"-r --timeline as nobody exit status ({p.stderr!r})")
    ladders = [x for x in p.stdout.splitlines() if x.startswith("connection 127.0.0.1:")]
    check_eq(len(ladders), len(ports), "one ladder per connection the clients made")
    check("SYN seq=" in p.stdout and "lecture vs kernel" in p.stdout, "the ladders are drawn",
          p.stdout[:300], "SYN seq=")


def test_capture_a_command_and_a_duration():
    """-w with -- CMD (the demo pair) and with -d."""
    n, pt = 3, 8080
    script = (f"{DEMO_SERVER} -p {pt} -n {n} > $OUT/server & "
              f"until grep -q listening $OUT/server; do sleep 0.05; done; "
              f"{DEMO_CLIENT} -n {n} 127.0.0.1 {pt} > $OUT/client; rc=$?; wait; exit $rc")
    with Netns("capcmd") as ns, tempfile.TemporaryDirectory() as tmp:
        cap = os.path.join(tmp, "cmd.syn")
        p = ns.run(["env", f"OUT={tmp}", SYNSCOPE, "-w", cap, "--", "sh", "-c", script],
                   stderr=subprocess.PIPE, text=True, timeout=120)
        check_eq(p.returncode, 0, f"synscope -w -- sh exit status ({p.stderr!r})")
        r = replay([cap, "-f", "jsonl"])
        check_eq(r.returncode, 0, f"replay of the command's capture ({r.stderr!r})")
        recs = handshakes(jsonl(r.stdout), ns.inode, pt)
        with open(os.path.join(tmp, "client")) as f:
            connected = [parse_kv(x) for x in f if x.startswith("connected")]
        check_eq(sorted(x["sport"] for x in recs if x["role"] == "client"),
                 sorted(int(c["local"].rsplit(":", 1)[1]) for c in connected),
                 "client ends of the command's connections")
        check_eq(len([x for x in recs if x["role"] == "server" and x["peer"]]), n,
                 "server ends, joined")

        cap = os.path.join(tmp, "d.syn")
        p = subprocess.run([SYNSCOPE, "-w", cap, "-d", "1", "-P", "9"], capture_output=True,
                           text=True, timeout=60)
        check_eq(p.returncode, 0, f"synscope -w -d 1 exit status ({p.stderr!r})")
        r = replay([cap])
        check(r.returncode == 0 and "0 connection ends" in r.stderr and "lost: 0" in r.stderr,
              "an empty capture replays with its summary", (r.returncode, r.stderr), "0, lost: 0")


BAD = [
    (["-r", "x", "-P", "80"], "-P applies while tracing the kernel"),
    (["-r", "x", "--close"], "--close applies while tracing the kernel"),
    (["-r", "x", "-w", "y"], "-w applies while tracing the kernel"),
    (["-r", "x", "--", "true"], "-r reads a capture: it cannot run a command"),
    (["-w", "x", "-f", "jsonl"], "-w writes raw records only"),
    (["-w", "x", "--timeline"], "-w writes raw records only"),
    (["-r", "/nonexistent/cap"], "couldn't open capture file '/nonexistent/cap'"),
    (["-r", "/etc/passwd"], "not a synscope capture"),
    (["-w", "/nonexistent/cap", "-d", "1"], "couldn't create capture file '/nonexistent/cap'"),
]


def test_bad_capture_options_fail_with_a_message():
    for args, message in BAD:
        p = subprocess.run([SYNSCOPE] + args, capture_output=True, text=True, timeout=60)
        check(p.returncode != 0, f"synscope {' '.join(args)} exits non-zero", p.returncode, "!= 0")
        check(message in p.stderr, f"synscope {' '.join(args)} says why", p.stderr, message)

