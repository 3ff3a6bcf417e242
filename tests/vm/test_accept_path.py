#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The accept path synscope chooses must be the one this kernel allows.

What this kernel allows comes from build/fexit-probe (tests/vm/fexit_probe.c),
which asks the kernel directly, without synscope's loader:
  fexit    fexit/inet_csk_accept loads (the vmtest VM: Debian 6.1 cloud kernel;
           stock distribution kernels);
  syscall  it is refused and synscope falls back to the accept/accept4 syscall
           tracepoints (the project's 6.18 test host: fexit gets EPERM).
SYNSCOPE_EXPECT_ACCEPT_HOOK pins the expectation (tests/vm/run.sh pins the VM's
to fexit); the probe must then agree, which checks the probe too.

Uses the e2e harness (tests/e2e/harness.py; OUTPUT selects the build directory).
Run directly: python3 tests/vm/test_accept_path.py  (root), exit 0 / 1 / 77.
"""
import os
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))

from harness import (BUILD, DEMO_CLIENT, DEMO_SERVER, SYNSCOPE, Failure, Netns, Skip,  # noqa: E402
                     Tracer, check, check_eq, free_port, handshakes, parse_kv, wait_for_line)

# What synscope's startup line and its records say for each path.
STARTUP = {"fexit": "accept path: fexit/inet_csk_accept",
           "syscall": "accept path: accept/accept4 syscall tracepoints"}


def probed_hook():
    """The accept path the kernel allows, by build/fexit-probe."""
    p = subprocess.run([os.path.join(BUILD, "fexit-probe")], capture_output=True, text=True,
                       timeout=30)
    if p.returncode != 0 or p.stdout.strip() not in STARTUP:
        raise Failure(f"fexit-probe could not tell (exit {p.returncode}): {p.stderr.strip()}")
    return p.stdout.strip(), p.stderr.strip()


def expected_hook():
    probed, why = probed_hook()
    pinned = os.environ.get("SYNSCOPE_EXPECT_ACCEPT_HOOK", "")
    if pinned:
        check(pinned in STARTUP, "SYNSCOPE_EXPECT_ACCEPT_HOOK is fexit or syscall", pinned,
              sorted(STARTUP))
        check_eq(probed, pinned, f"what fexit-probe found on {os.uname().release} ({why})")
    return probed


def traced_pair(tag, tracer_args, n=3):
    """demo-server / demo-client in a fresh netns under synscope; returns what all said."""
    port = free_port(hash(tag) % 1000 + 1000)
    with Netns(tag) as ns, tempfile.TemporaryDirectory() as tmp:
        tracer = Tracer(["-P", str(port)] + list(tracer_args), os.path.join(tmp, "out.jsonl"))
        server = None
        try:
            server = ns.popen([DEMO_SERVER, "-p", str(port), "-n", str(n), "--accept-delay-ms",
                               "200"], stdout=subprocess.PIPE, text=True)
            m, _ = wait_for_line(server, r"^listening .*", 10)
            listening = parse_kv(m.group(0))
            client = ns.run([DEMO_CLIENT, "-n", str(n), "127.0.0.1", str(port)],
                            stdout=subprocess.PIPE, text=True, timeout=60)
            check_eq(client.returncode, 0, "demo-client exit status")
            server_out, _ = server.communicate(timeout=60)
            check_eq(server.returncode, 0, "demo-server exit status")
        finally:
            if server and server.poll() is None:
                server.kill()
                server.wait()
            status, records = tracer.stop()
        check_eq(status, 0, "synscope exit status after SIGTERM")
        return dict(startup=tracer.startup.string, stderr=tracer.stderr, listening=listening,
                    accepted=[parse_kv(x) for x in server_out.splitlines()
                              if x.startswith("accepted")],
                    records=handshakes(records, ns.inode, port))


def check_servers(run, hook, n=3):
    """Every connection's server end was seen by `hook`, with the accept() caller's pid/fd."""
    recs = run["records"]
    by_id = {r["id"]: r for r in recs}
    servers = [r for r in recs if r["role"] == "server"]
    check_eq(len(servers), n, "server records")
    check_eq(sorted(s["fd"] for s in servers), sorted(int(a["fd"]) for a in run["accepted"]),
             "server fds are the ones accept() returned")
    for s in servers:
        check_eq(s["accept_hook"], hook, "accept_hook of the server record")
        check_eq(s["accepted"], True, "server end accepted")
        check_eq((s["pid"], s["comm"]), (int(run["listening"]["pid"]), "demo-server"),
                 "server end names the accept() caller")
        check(s["accept_wait_us"] is not None and s["accept_wait_us"] >= 0,
              "accept-queue wait measured", s["accept_wait_us"], ">= 0")
        c = by_id.get(s["peer"])
        check(c is not None and c["role"] == "client", "server end joined to its client",
              s["peer"], "a client id")
        check_eq((s["iss"], s["irs"]), (c["irs"], c["iss"]), "ISS/IRS cross-match")
    # The server sleeps 200 ms before each accept() and the client connects at
    # once, so in accept order each end waited about 200 ms longer than the one
    # before, however late the client started.
    waits = [s["accept_wait_us"] for s in sorted(servers, key=lambda r: r["t_ret_ns"])]
    check(all(b - a >= 100_000 for a, b in zip(waits, waits[1:])),
          "each accepted end waited one 200 ms accept delay longer than the previous", waits,
          "steps >= 100000 us")


def test_auto_chooses_the_expected_accept_path():
    hook = expected_hook()
    run = traced_pair("auto", [])
    check(STARTUP[hook] in run["startup"], f"startup line names the {hook} path",
          run["startup"], STARTUP[hook])
    if hook == "syscall":
        check("fexit/inet_csk_accept refused:" in run["startup"],
              "startup line says why fexit was not used", run["startup"], "refused: <reason>")
    check_servers(run, hook)


def test_forced_fexit_hook():
    """--accept-hook=fexit works where fexit loads, and fails clearly where it does not."""
    hook = expected_hook()
    if hook == "fexit":
        run = traced_pair("fexit", ["--accept-hook=fexit"])
        check(STARTUP["fexit"] in run["startup"], "startup line names the fexit path",
              run["startup"], STARTUP["fexit"])
        check_servers(run, "fexit")
        return
    p = subprocess.run([SYNSCOPE, "--accept-hook=fexit", "-d", "1", "-P", "9"],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode != 0, "--accept-hook=fexit where fexit cannot load exits non-zero",
          p.returncode, "!= 0")
    check("fexit/inet_csk_accept did not load" in p.stderr, "and says why", p.stderr,
          "fexit/inet_csk_accept did not load")


def test_forced_syscall_hook_overrides():
    """--accept-hook=syscall uses the tracepoints even where fexit would load."""
    expected_hook()
    run = traced_pair("syscall", ["--accept-hook=syscall"])
    check(STARTUP["syscall"] + " (--accept-hook=syscall)" in run["startup"],
          "startup line names the requested syscall path", run["startup"], STARTUP["syscall"])
    check_servers(run, "syscall")


def main():
    """The e2e runner's conventions: PASS / FAIL / SKIP lines; exit 0, 1, or 77 on skips."""
    tests = [(f"vm.test_accept_path.{name}", fn) for name, fn in sorted(globals().items())
             if name.startswith("test_") and callable(fn)]
    if os.geteuid() != 0:
        print("SKIP vm.test_accept_path: needs root")
        return 77
    passed, failed, skipped = 0, 0, 0
    for name, fn in tests:
        start = time.monotonic()
        try:
            fn()
        except Skip as e:
            skipped += 1
            print(f"SKIP {name}: {e}")
            continue
        except Failure as e:
            failed += 1
            print(f"FAIL {name}: {e}")
            continue
        except Exception:
            failed += 1
            print(f"FAIL {name}: unexpected error")
            traceback.print_exc(file=sys.stdout)
            continue
        passed += 1
        print(f"PASS {name} ({time.monotonic() - start:.1f}s)")
    print(f"accept-path: {passed} passed, {failed} failed, {skipped} skipped "
          f"(expected {os.environ.get('SYNSCOPE_EXPECT_ACCEPT_HOOK') or 'by fexit-probe'}, "
          f"kernel {os.uname().release})")
    if failed:
        return 1
    return 77 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
