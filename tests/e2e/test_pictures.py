# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""-f trace-event and -f html: the demo pair traced live and from a capture.

The trace-event output is checked against the format's JSON Schema kept in
tests/schema (python3-jsonschema) and against the format's own rules: async
events carry an id, each b has one e, instants fall inside their slice,
flows bind to slices that exist. The HTML report is opened in headless
Chromium inside the test's network namespace (only loopback: a fetch from
outside would fail) and its DOM checked: one ladder per connection, the
numbers equal the JSONL's. Screenshots (light and dark) and a PDF print are
taken.

The tests named *_html* need Chromium and check only user space (the
report's rendering does not depend on the kernel): the VM image, which has
no browser, leaves them out (tests/vm/init).
"""
import copy
import json
import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser

from harness import (DEMO_CLIENT, DEMO_SERVER, ROOT, SYNSCOPE, Netns, Skip, check, check_eq,
                     free_port)

SCHEMA = os.path.join(ROOT, "tests", "schema", "trace_event.schema.json")

# The demo pair as one command: the server with a slow accept() (so that
# the queue fills), N clients, one more client refused on PORT+1.
PAIR = """
import subprocess, sys
demo_server, demo_client, port, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
srv = subprocess.Popen([demo_server, "-p", port, "-n", n, "-b", "8", "--accept-delay-ms", "30"],
                       stdout=subprocess.PIPE, text=True)
srv.stdout.readline()  # listening ...
cli = subprocess.run([demo_client, "-n", n, "127.0.0.1", port], capture_output=True, text=True)
ref = subprocess.run([demo_client, "127.0.0.1", str(int(port) + 1)], capture_output=True, text=True)
srv.communicate(timeout=60)
sys.stdout.write(cli.stdout)
sys.exit(0 if cli.returncode == 0 and ref.returncode != 0 and srv.returncode == 0 else 1)
"""


def trace_pair(ns, port, n, synscope_args):
    """Runs the demo pair under synscope ARGS (--close, -P for its two ports); returns the
    local ports of the established connections, from demo-client's own output."""
    argv = [SYNSCOPE, "--close", "-P", f"{port},{port + 1}"] + list(synscope_args) + \
        ["--", "python3", "-c", PAIR, DEMO_SERVER, DEMO_CLIENT, str(port), str(n)]
    p = ns.run(argv, capture_output=True, text=True, timeout=120)
    check_eq(p.returncode, 0, f"synscope exit status (stderr: {p.stderr[-2000:]!r})")
    check("lost: 0 " in p.stderr, "nothing lost", p.stderr[-600:], "lost: 0")
    ports = [int(m) for m in re.findall(r"local=127\.0\.0\.1:(\d+)", p.stdout)]
    check_eq(len(ports), n, "demo-client made its connections")
    return ports


def replay(cap, fmt, out):
    p = subprocess.run([SYNSCOPE, "-r", cap, "-f", fmt, "-o", out], capture_output=True,
                       text=True, timeout=60)
    check_eq(p.returncode, 0, f"synscope -r -f {fmt} exit status ({p.stderr[-1000:]!r})")


# ---- trace-event ---------------------------------------------------------

def schema_errors(doc):
    import jsonschema  # python3-jsonschema (make deps)

    with open(SCHEMA) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in v.iter_errors(doc)]


def check_trace(doc):
    """Validates a trace-event document; returns its async slices {(pid, id): (b, e, [n])},
    its X events and its counters."""
    errors = schema_errors(doc)
    check(not errors, "trace-event output matches the schema", errors[:5], [])
    # The schema can fail: an async event without its id, a counter with a string value.
    bad = copy.deepcopy(doc)
    for ev in bad["traceEvents"]:
        if ev["ph"] == "b":
            del ev["id2"]
            break
    check(schema_errors(bad), "the schema rejects an async event without an id", None, "errors")

    events = doc["traceEvents"]
    slices = {}
    for ev in events:
        if ev["ph"] in "ben":
            key = (ev["pid"], ev["cat"], ev["id2"].get("local") or ev["id2"].get("global"))
            s = slices.setdefault(key, {"b": [], "e": [], "n": []})
            s[ev["ph"]].append(ev)
    for key, s in slices.items():
        check_eq((len(s["b"]), len(s["e"])), (1, 1), f"async slice {key}: one b and one e")
        b, e = s["b"][0], s["e"][0]
        check_eq(e["name"], b["name"], f"slice {key}: e names its b")
        check(b["ts"] <= e["ts"], f"slice {key} ends after it begins", (b["ts"], e["ts"]))
        for n in s["n"]:
            check(b["ts"] <= n["ts"] <= e["ts"], f"slice {key}: instant {n['args']} inside it",
                  n["ts"], (b["ts"], e["ts"]))
    # Flows: each flow_in binds to an earlier (or simultaneous) flow_out of the same id, on
    # a slice that exists (X, or a b whose slice was checked above).
    outs = {}
    for ev in events:
        if ev.get("flow_out"):
            outs.setdefault(ev["bind_id"], []).append(ev["ts"])
    for ev in events:
        if ev.get("flow_in"):
            check(any(t <= ev["ts"] for t in outs.get(ev["bind_id"], [])),
                  f"flow {ev['bind_id']} into {ev['name']} has a start before it",
                  outs.get(ev["bind_id"]), f"<= {ev['ts']}")
    named = {ev["pid"] for ev in events if ev["ph"] == "M" and ev["name"] == "process_name"}
    check(all(ev["pid"] in named for ev in events), "every process has a process_name",
          sorted({ev["pid"] for ev in events} - named), "none unnamed")
    calls = [ev for ev in events if ev["ph"] == "X"]
    counters = [ev for ev in events if ev["ph"] == "C"]
    return slices, calls, counters


def check_trace_against(slices, calls, counters, records, port):
    """The trace says what the JSONL says, end by end."""
    by_id = {s["b"][0]["args"]["id"]: s for s in slices.values()}
    check_eq(sorted(by_id), sorted(r["id"] for r in records), "one async slice per JSONL end")
    for r in records:
        a = by_id[r["id"]]["b"][0]["args"]
        for field in ("outcome", "iss", "irs", "connect_us", "accept_wait_us", "acceptq"):
            if field in r and field in a:
                check_eq(a[field], r[field], f"{r['role']} {r['id']} {field} equals the JSONL's")
        check_eq(a["errno"], r.get("errno"), f"{r['role']} {r['id']} errno")
        check_eq(a["peer_id"], r.get("peer"), f"{r['role']} {r['id']} peer")
        closes = [n["args"]["state"] for n in by_id[r["id"]]["n"]]
        check(("ESTABLISHED" if r["outcome"] == "established" else "CLOSE") in closes,
              f"{r['role']} {r['id']} shows its handshake's end", closes)
    clients = [r for r in records if r["role"] == "client"]
    servers = [r for r in records if r["role"] == "server"]
    check_eq(sum(c["name"] == "connect()" for c in calls), len(clients), "a connect() slice per client")
    check_eq(sum(c["name"] == "accept()" for c in calls), len(servers), "an accept() slice per server")
    # One flow per joined connection: connect() ... accept().
    flow_of = {}
    for c in calls:
        if "bind_id" in c:
            flow_of.setdefault(c["bind_id"], []).append(c["name"])
    joined = [r for r in clients if r.get("peer")]
    check(joined, "the demo's connections are joined", len(joined), "> 0")
    for r in joined:
        check_eq(sorted(flow_of.get(hex(r["id"]), [])), ["accept() returned", "connect()"],
                 f"connection of client {r['id']}: one flow from connect() to accept()'s return")
    depth = [c["args"]["depth"] for c in counters if c["name"] == f"accept queue :{port}"]
    check(depth, "an accept-queue counter track for the listener", [c["name"] for c in counters])
    check_eq(max(depth), max(r["acceptq"] for r in servers), "counter peak equals the deepest acceptq")
    check_eq(depth[-1] if depth else None, 0, "the queue is empty at the last accept()")


# ---- html ----------------------------------------------------------------

class ReportDom(HTMLParser):
    """What the tests read from the report's DOM: ladders, counts, listener rows, text."""

    def __init__(self):
        super().__init__()
        self.ladders, self.counts, self.listeners, self.tags = [], {}, [], set()
        self.ladder_text, self.section = [], None
        self.capped = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "section" and "ladder" in (a.get("class") or "").split():
            self.ladders.append(a)
            self.ladder_text.append("")
        if "data-count" in a and a.get("id"):
            self.counts[a["id"]] = int(a["data-count"])
        if tag == "tr" and a.get("class") == "listener":
            self.listeners.append(a)
        if a.get("id") == "ladders-capped":
            self.capped = True

    def handle_data(self, data):
        if self.ladder_text:
            self.ladder_text[-1] += data + "\n"


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(ns, tmp, *args):
    if not CHROMIUM:
        raise Skip("chromium is not installed (make deps installs it)")
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={os.path.join(tmp, 'chromium')}"] + list(args)
    p = ns.run(argv, capture_output=True, text=True, timeout=120)
    check_eq(p.returncode, 0, f"chromium {args[0]} exit status ({p.stderr[-1000:]!r})")
    return p.stdout


def open_report(ns, tmp, path, shots=False):
    """The report as headless Chromium parsed it; with shots, screenshots and a PDF too."""
    with open(path) as f:
        html = f.read()
    for outside in ("<script", "<link", "<iframe", " src=", "@import", "url(http"):
        check(outside not in html, f"the report loads nothing ({outside!r})")
    url = "file://" + path
    dom = ReportDom()
    dom.feed(chromium(ns, tmp, "--dump-dom", url))
    check("svg" in dom.tags, "the browser parsed the report's SVG", sorted(dom.tags))
    if shots:
        pngs = []
        for name, extra in (("light", []), ("dark", ["--force-dark-mode",
                                                    "--blink-settings=preferredColorScheme=0"])):
            png = os.path.join(tmp, f"report-{name}.png")
            chromium(ns, tmp, *extra, f"--screenshot={png}", "--window-size=1200,1800", url)
            with open(png, "rb") as f:
                pngs.append(f.read())
            check_eq(pngs[-1][:8], b"\x89PNG\r\n\x1a\n", f"{name} screenshot is a PNG")
        check(pngs[0] != pngs[1], "the dark theme changes the rendering")
        pdf = os.path.join(tmp, "report.pdf")
        chromium(ns, tmp, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", url)
        with open(pdf, "rb") as f:
            check_eq(f.read(5), b"%PDF-", "the report prints to PDF")
    return dom


def check_report_against(dom, records, port):
    clients = [r for r in records if r["role"] == "client"]
    servers = [r for r in records if r["role"] == "server"]
    check_eq(len(dom.ladders), len(clients), "one ladder per connection (each has a client)")
    by_client = {int(a["data-client-id"]): (a, text) for a, text in zip(dom.ladders, dom.ladder_text)}
    srv = {r["id"]: r for r in servers}
    for c in clients:
        a, text = by_client[c["id"]]
        check_eq(int(a["data-iss"]), c["iss"], f"ladder of client {c['id']}: ISS")
        check(f"SYN seq={c['iss']}" in text, f"ladder of client {c['id']} shows SYN seq=ISS", text)
        check_eq(a["data-outcome"], c["outcome"], f"ladder of client {c['id']}: outcome")
        if c["outcome"] != "established":
            continue
        check_eq(int(a["data-irs"]), c["irs"], f"ladder of client {c['id']}: IRS")
        check(f"ACK ack={(c['irs'] + 1) % 2**32}" in text, "the third ACK acknowledges IRS+1", text)
        s = srv[c["peer"]]
        check_eq(int(a["data-server-id"]), s["id"], f"ladder of client {c['id']}: its server")
        check_eq(int(a["data-accept-wait-us"]), s["accept_wait_us"], "ladder's accept wait")
    check_eq(dom.counts.get("clients"), len(clients), "summary: client ends")
    check_eq(dom.counts.get("servers"), len(servers), "summary: server ends")
    for outcome in ("established", "refused", "timeout"):
        check_eq(dom.counts.get(f"outcome-{outcome}"), sum(r["outcome"] == outcome for r in records),
                 f"summary: {outcome} ends")
    check_eq(dom.counts.get("lost"), 0, "summary: nothing lost")
    rows = [a for a in dom.listeners if int(a["data-port"]) == port]
    check_eq(len(rows), 1, "one listener row for the port")
    check_eq(int(rows[0]["data-max-wait-us"]), max(r["accept_wait_us"] for r in servers),
             "listener row: the longest accept wait equals the JSONL's")
    check_eq(int(rows[0]["data-max-acceptq"]), max(r["acceptq"] for r in servers),
             "listener row: the deepest queue equals the JSONL's")
    check_eq(dom.counts.get("wait-histogram"), len(servers), "wait histogram counts every accept")


def capture_pair(ns, tmp, port, n, fmts):
    """One capture of the demo pair, read back in each of fmts; returns (paths, JSONL ends)."""
    cap = os.path.join(tmp, "cap.syn")
    trace_pair(ns, port, n, ["-w", cap])
    paths = {fmt: os.path.join(tmp, f"out.{fmt}") for fmt in ("jsonl",) + tuple(fmts)}
    for fmt, path in paths.items():
        replay(cap, fmt, path)
    with open(paths["jsonl"]) as f:
        records = [r for r in map(json.loads, f) if r.get("type") == "handshake"]
    check_eq(len(records), 2 * n + 1, "JSONL: both ends of each connection, and the refused one")
    return paths, records


def test_pictures_trace_event_replayed_equals_jsonl():
    port, n = free_port(91), 4
    with tempfile.TemporaryDirectory() as tmp, Netns("pic") as ns:
        paths, records = capture_pair(ns, tmp, port, n, ("trace-event",))
        with open(paths["trace-event"]) as f:
            doc = json.load(f)
        check_trace_against(*check_trace(doc), records, port)


def test_pictures_html_replayed_equals_jsonl():
    port, n = free_port(94), 4
    with tempfile.TemporaryDirectory() as tmp, Netns("pichtml") as ns:
        os.chmod(tmp, 0o755)
        paths, records = capture_pair(ns, tmp, port, n, ("html",))
        dom = open_report(ns, tmp, paths["html"], shots=True)
        check_report_against(dom, records, port)


def test_pictures_trace_event_live():
    """The demo pair traced live with -f trace-event."""
    port, n = free_port(92), 3
    with tempfile.TemporaryDirectory() as tmp, Netns("piclive") as ns:
        trace_path = os.path.join(tmp, "trace.json")
        ports = trace_pair(ns, port, n, ["-f", "trace-event", "-o", trace_path])
        with open(trace_path) as f:
            slices, calls, counters = check_trace(json.load(f))
        names = sorted(s["b"][0]["name"] for s in slices.values())
        want = sorted([f"client 127.0.0.1:{p} -> 127.0.0.1:{port}" for p in ports] +
                      [f"server 127.0.0.1:{port} <- 127.0.0.1:{p}" for p in ports])
        check_eq([x for x in names if f":{port}" in x], want,
                 "a client and a server slice per connection demo-client made")
        established = [s for s in slices.values() if s["b"][0]["args"]["outcome"] == "established"]
        for s in established:
            states = [x["args"]["state"] for x in s["n"]]
            check(states[-1] == "CLOSE" or "TIME_WAIT" in states[-1],
                  "with --close an established end's slice runs to its close", states)


def test_pictures_html_live():
    """The demo pair traced live with -f html."""
    port, n = free_port(95), 3
    with tempfile.TemporaryDirectory() as tmp, Netns("pichtmllive") as ns:
        os.chmod(tmp, 0o755)
        html_path = os.path.join(tmp, "report.html")
        ports = trace_pair(ns, port, n, ["-f", "html", "-o", html_path])
        dom = open_report(ns, tmp, html_path)
        check_eq(len(dom.ladders), n + 1, "one ladder per connection, the refused one included")
        texts = "\n".join(dom.ladder_text)
        for p in ports:
            check(f"127.0.0.1:{p} → 127.0.0.1:{port}" in texts, f"a ladder for local port {p}")
        check_eq(dom.counts.get("outcome-refused"), 1, "summary: the refused connect()")


def test_pictures_html_ladders_capped():
    """More connections than the report draws: the first 100, and a note saying so."""
    port = free_port(93)
    with tempfile.TemporaryDirectory() as tmp, Netns("piccap") as ns:
        os.chmod(tmp, 0o755)
        html_path = os.path.join(tmp, "report.html")
        argv = [SYNSCOPE, "-P", str(port), "-f", "html", "-o", html_path, "--",
                "python3", "-c", PAIR.replace('"--accept-delay-ms", "30"', '"--accept-delay-ms", "0"'),
                DEMO_SERVER, DEMO_CLIENT, str(port), "120"]
        p = ns.run(argv, capture_output=True, text=True, timeout=120)
        check_eq(p.returncode, 0, f"synscope exit status ({p.stderr[-1000:]!r})")
        with open(html_path) as f:
            html = f.read()
        m = re.search(r'id="ladders" data-drawn="(\d+)" data-connections="(\d+)"', html)
        check(m, "the ladders section says how many it drew", html[:200])
        check_eq((int(m.group(1)), int(m.group(2))), (100, 120), "100 of 120 connections drawn")
        check_eq(html.count('<section class="ladder"'), 100, "100 ladders")
        check('id="ladders-capped"' in html, "a note says the ladders are capped")


def test_pictures_bad_format_refused():
    p = subprocess.run([SYNSCOPE, "-f", "svg"], capture_output=True, text=True, timeout=30)
    check(p.returncode != 0 and "use text, jsonl, trace-event or html" in p.stderr,
          "an unknown format names the ones there are", p.stderr)
    p = subprocess.run([SYNSCOPE, "-f", "html", "--timeline"], capture_output=True, text=True,
                       timeout=30)
    check(p.returncode != 0 and "give -o FILE for the HTML output" in p.stderr,
          "--timeline with -f html to stdout is refused", p.stderr)
