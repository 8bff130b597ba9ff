"""A cold start: one import case in a fresh interpreter, and the foreign cloud modules it loaded.

    python -m bench.steps.cold_start CODE SETUP PATH FOREIGN_ROOTS

`SETUP` (what a runtime has loaded already) runs first, with `PATH` (if any) first on sys.path;
then `CODE` is timed. `FOREIGN_ROOTS` are other clouds' top-level packages, comma-separated: the
modules of theirs that the case loaded are listed, and there must be none.
"""

from __future__ import annotations

import json
import sys
import time

from bench.steps import peak_rss_mib


def main() -> None:
    code, setup, path, foreign_roots = sys.argv[1:5]
    before = set(sys.modules)
    if path:
        sys.path.insert(0, path)
    exec(setup, {})
    start = time.perf_counter()
    exec(code, {})
    seconds = time.perf_counter() - start
    roots = set(foreign_roots.split(","))
    foreign = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in roots)
    print(json.dumps({"seconds": seconds, "peak_rss_mib": peak_rss_mib(), "foreign": foreign}))


if __name__ == "__main__":
    main()
