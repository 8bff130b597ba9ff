"""Measured steps: each module here runs as `python -m bench.steps.<module> <kind> <json args>`.

A fresh interpreter per step, so the peak RSS it reports is that step's alone. A step module's own
imports (at its top, or in its `setup`) happen before the clock starts; only the kind's function
is timed. This package imports the standard library alone, so it adds nothing to any step.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

#: a step's arguments, as the driver passed them
Args = dict[str, Any]
#: one kind of step: the timed work
Kind = Callable[[Args], None]


def peak_rss_mib() -> float:
    """This process's peak RSS so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(kinds: Mapping[str, Kind], setup: Callable[[Args], None] | None = None) -> None:
    """Run the kind named by argv[1] with the JSON args of argv[2]; print its seconds and peak RSS.

    `setup` runs before the clock: for imports that depend on the args.
    """
    kind, args = sys.argv[1], json.loads(sys.argv[2])
    if kind not in kinds:
        sys.exit(f"unknown step kind {kind!r}; this module has: {', '.join(kinds)}")
    if setup is not None:
        setup(args)
    start = time.perf_counter()
    kinds[kind](args)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_rss_mib()}))
