# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The short form of `make stress` (stress.py): overlapping FIN and RST teardown on two
ports under synscope --close, every connection's records exact, every missing close record
counted as a close the kernel did not report."""
from harness import check
from stress import stress


def test_overlapping_teardown_is_exact():
    done, made, _ = stress(budget=30, seconds=3, runs=2)
    check(done >= 1 and made["FIN"] > 0 and made["RST"] > 0,
          "at least one run with both loads, all exact", (done, dict(made)), ">= 1 run")
