#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Runs synscope's end-to-end tests: every test_* function of tests/e2e/test_*.py.

Prints PASS / FAIL / SKIP per test with the reason. Exit status: 0 when all
passed, 1 on any failure, 77 when tests were skipped (a skip is not a pass).
Usage: run.py [--exclude NAME-SUBSTRING]... [NAME-SUBSTRING...]
"""
import glob
import importlib
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from harness import SYNSCOPE, Failure, Skip  # noqa: E402


def collect(filters, excludes=()):
    tests = []
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        mod = importlib.import_module(os.path.basename(path)[:-3])
        for name in sorted(dir(mod)):
            fn = getattr(mod, name)
            full = f"{mod.__name__}.{name}"
            if name.startswith("test_") and callable(fn):
                if any(x in full for x in excludes):
                    continue
                if not filters or any(f in full for f in filters):
                    tests.append((full, fn))
    return tests


def main():
    args, excludes = sys.argv[1:], []
    while len(args) >= 2 and args[0] == "--exclude":
        excludes.append(args[1])
        args = args[2:]
    tests = collect(args, excludes)
    if not os.access(SYNSCOPE, os.X_OK):
        print(f"FAIL: {SYNSCOPE} is not built; run 'make'")
        return 1
    if os.geteuid() != 0:
        for name, _ in tests:
            print(f"SKIP {name}: needs root (BPF, network namespaces)")
        print(f"e2e: {len(tests)} skipped: run 'sudo make test-e2e'")
        return 77
    passed, failed, skipped = 0, [], []
    for name, fn in tests:
        start = time.monotonic()
        try:
            fn()
        except Skip as e:
            skipped.append(name)
            print(f"SKIP {name}: {e}")
            continue
        except Failure as e:
            failed.append(name)
            print(f"FAIL {name}: {e}")
            continue
        except Exception:
            failed.append(name)
            print(f"FAIL {name}: unexpected error")
            traceback.print_exc()
            continue
        passed += 1
        print(f"PASS {name} ({time.monotonic() - start:.1f}s)")
    print(f"e2e: {passed} passed, {len(failed)} failed, {len(skipped)} skipped")
    if failed:
        return 1
    return 77 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
