# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""A connect() that fails asynchronously is typed by the error the application got.

Event-driven clients (Python with a timeout, curl, anything on poll/epoll)
connect() non-blocking, wait with poll(), and read the error with
getsockopt(SO_ERROR), which clears it; their close() then ends the socket.
Each client here runs behind a router namespace whose routes answer the SYN
with an ICMP error (or a closed port answers with an RST); synscope's record
must carry the errno the client itself reports.
"""
import os
import subprocess
import tempfile

from harness import DEMO_CLIENT, Netns, Tracer, check, check_eq, free_port, handshakes

CLIENT, ROUTER = "10.98.1.1", "10.98.1.254"
HOST_UNREACH = "10.98.2.3"   # router: `unreachable` route, ICMP host unreachable
BLACKHOLE = "10.98.4.3"      # router: `blackhole` route, SYNs dropped without a word
NET_UNREACH = "10.98.3.3"    # router: no route at all, ICMP net unreachable
CLIENT6, ROUTER6 = "fd98:1::1", "fd98:1::fe"
UNREACH6 = "fd98:2::3"       # router: `unreachable` route, ICMPv6 no route

OUTCOME = {"EHOSTUNREACH": "unreachable", "ENETUNREACH": "unreachable",
           "ECONNREFUSED": "refused", "ETIMEDOUT": "timeout"}

# connect() with a timeout, as socket.create_connection() and requests do it;
# prints the errno name the application saw.
PY_CLIENT = r"""
import errno, socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.settimeout(float(sys.argv[3]) if len(sys.argv) > 3 else 5)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    # Linux wakes poll() as it queues an ICMP error, a moment before it sets
    # sk_err: SO_ERROR can read 0, and connect() "succeeds". The error then
    # comes with the first send(), as it would in the application.
    s.sendall(b"\n")
    print("connected")
except OSError as e:
    # socket.timeout is TimeoutError: the kernel's ETIMEDOUT has an errno,
    # Python's own timeout none.
    print(errno.errorcode[e.errno] if e.errno else "python-timeout")
s.close()
"""


class Routed:
    """Client namespace behind a router namespace, routes as in the constants above."""

    def __enter__(self):
        self.client = Netns("async-c").__enter__()
        try:
            self.router = Netns("async-r").__enter__()
        except Exception:
            self.client.__exit__(None, None, None)
            raise
        try:
            self._wire()
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def _wire(self):
        c, r = self.client, self.router
        subprocess.run(["ip", "link", "add", "vc", "netns", c.name, "type", "veth", "peer",
                        "name", "vr", "netns", r.name], check=True)
        for ns, dev, a4, a6 in ((c, "vc", CLIENT, CLIENT6), (r, "vr", ROUTER, ROUTER6)):
            ns.run(["ip", "addr", "add", a4 + "/24", "dev", dev], check=True)
            ns.run(["ip", "-6", "addr", "add", a6 + "/64", "dev", dev, "nodad"], check=True)
            ns.run(["ip", "link", "set", dev, "up"], check=True)
        c.run(["ip", "route", "add", "default", "via", ROUTER], check=True)
        c.run(["ip", "-6", "route", "add", "default", "via", ROUTER6], check=True)
        # Forward, and answer every SYN: no ICMP rate limit between the runs.
        for name in ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"):
            r.sysctl(name, 1)
        for name in ("net.ipv4.icmp_ratelimit", "net.ipv6.icmp.ratelimit"):
            r.sysctl(name, 0)
        r.run(["ip", "route", "add", "unreachable", HOST_UNREACH + "/32"], check=True)
        r.run(["ip", "route", "add", "blackhole", BLACKHOLE + "/32"], check=True)
        r.run(["ip", "-6", "route", "add", "unreachable", UNREACH6 + "/128"], check=True)

    def __exit__(self, *exc):
        self.router.__exit__(*exc)
        self.client.__exit__(*exc)


def trace_clients(tag, runs, setup=None):
    """Runs each (argv, parse) client in the client namespace under one synscope filtered
    to the test's port (after setup(net), if given); returns [(errno the client
    reported, its record)] in run order."""
    port = free_port(hash(tag) % 1000)
    with Routed() as net, tempfile.TemporaryDirectory() as tmp:
        if setup:
            setup(net)
        tracer = Tracer(["-P", str(port)], os.path.join(tmp, "out.jsonl"))
        seen = []
        try:
            for argv, parse in runs:
                argv = [a.replace("PORT", str(port)) for a in argv]
                p = net.client.run(argv, capture_output=True, text=True, timeout=30)
                seen.append(parse(p))
        finally:
            status, records = tracer.stop()
        check_eq(status, 0, "synscope exit status")
        check_eq(records[-1]["lost"]["total"], 0, "events lost")
        ends = [r for r in handshakes(records, net.client.inode, port) if r["role"] == "client"]
        check_eq(len(ends), len(runs), "client records: one per connect() (clients got "
                 f"{seen}; records {[(r['daddr'], r['outcome']) for r in ends]}; ends in flight "
                 f"at exit {records[-1]['in_flight']})")
        return list(zip(seen, sorted(ends, key=lambda r: r["t_call_ns"])))


def python_client(addr, timeout=5):
    return (["python3", "-c", PY_CLIENT, addr, "PORT", str(timeout)], lambda p: p.stdout.strip())


def curl_client(addr, timeout=5):
    host = f"[{addr}]" if ":" in addr else addr
    # curl prints no errno: its exit status 7 is "failed to connect"; the errno is
    # checked against the Python runs of the same destination. When poll() woke
    # before sk_err was set (see PY_CLIENT), curl fails on its send instead: 55.
    def parse(p):
        return "failed" if p.returncode in (7, 55) else "curl-exit-%d" % p.returncode
    return (["curl", "-sS", "-m", str(timeout), f"http://{host}:PORT/"], parse)


def demo_client_nonblock(addr):
    def parse(p):
        for line in p.stdout.splitlines():
            if line.startswith("connect failed:"):
                return line.split()[2]
        return "no failure line in %r" % p.stdout
    return ([DEMO_CLIENT, "--nonblock", addr, "PORT"], parse)


def check_typed(pairs, what):
    for got, rec in pairs:
        check(got in OUTCOME, f"{what}: the client failed with a known errno", got,
              sorted(OUTCOME))
        check_eq((rec["outcome"], rec["errno"]), (OUTCOME[got], got),
                 f"{what} to {rec['daddr']}: record typed by the errno the client got")
        check_eq(rec["connect_ret"], -115, f"{what}: connect() returned EINPROGRESS")


def test_python_timeout_client_unreachable():
    pairs = trace_clients("py-unreach", [python_client(HOST_UNREACH), python_client(NET_UNREACH),
                                         python_client(UNREACH6)])
    check_eq([got for got, _ in pairs], ["EHOSTUNREACH", "ENETUNREACH", "ENETUNREACH"],
             "what the Python clients got (host, net, IPv6 no route)")
    check_typed(pairs, "Python with a timeout")


def test_python_timeout_client_refused():
    # The router's own address has no listener: its RST arrives in SYN_SENT.
    pairs = trace_clients("py-refused", [python_client(ROUTER), python_client(ROUTER6)])
    check_typed(pairs, "Python with a timeout")


def test_demo_client_nonblocking():
    pairs = trace_clients("nonblock", [demo_client_nonblock(HOST_UNREACH),
                                       demo_client_nonblock(ROUTER)])
    check_eq([got for got, _ in pairs], ["EHOSTUNREACH", "ECONNREFUSED"],
             "what demo-client --nonblock got")
    check_typed(pairs, "demo-client --nonblock")


def test_curl_unreachable():
    pairs = trace_clients("curl", [curl_client(HOST_UNREACH), python_client(HOST_UNREACH)])
    (curl_got, curl_rec), (py_got, _) = pairs
    check_eq(curl_got, "failed", "curl's exit status (7 or 55)")
    check_eq(py_got, "EHOSTUNREACH", "the same destination's errno, from Python")
    check_eq((curl_rec["outcome"], curl_rec["errno"]), ("unreachable", "EHOSTUNREACH"),
             "curl's record")


def test_kernel_timeout_nonblocking_clients():
    # SYNs into a blackhole, and one retransmission allowed (tcp_syn_retries
    # 1: SYN, again after 1 s, give up 2 s later): the kernel's ETIMEDOUT
    # reaches the clients through SO_ERROR within their own timeouts.
    def timeout_run(net):
        net.client.sysctl("net.ipv4.tcp_syn_retries", 1)
    pairs = trace_clients("timeout", [python_client(BLACKHOLE, 20),
                                      demo_client_nonblock(BLACKHOLE),
                                      curl_client(BLACKHOLE, 20)], setup=timeout_run)
    (py_got, py_rec), (demo_got, demo_rec), (curl_got, curl_rec) = pairs
    check_eq([py_got, demo_got], ["ETIMEDOUT", "ETIMEDOUT"],
             "what Python and demo-client --nonblock got")
    check_typed(pairs[:2], "timeout")
    # curl says 28 for the kernel's ETIMEDOUT as for its own -m; the record
    # tells them apart (had curl given up first, the end would be abandoned).
    check_eq(curl_got, "curl-exit-28", "curl's exit status (timed out)")
    check_eq((curl_rec["outcome"], curl_rec["errno"]), ("timeout", "ETIMEDOUT"), "curl's record")
    check(curl_rec["t_end_ns"] - curl_rec["t_syn_ns"] < 10e9,
          "the kernel gave up within 10 s, before curl's own 20 s",
          curl_rec["t_end_ns"] - curl_rec["t_syn_ns"], "< 10 s in ns")
    for rec in (py_rec, demo_rec, curl_rec):
        # 1 or 2: the give-up test compares elapsed time with the modelled
        # timeout of 1 retry (tcp_write_timeout()), at timer granularity.
        check(rec["retrans"] in (1, 2), f"SYN retransmissions of {rec['comm']}",
              rec["retrans"], "1 or 2")
