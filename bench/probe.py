"""Values a driver needs from modules it must not import, read here in a child process.

    python -m bench.probe sizes 1M 256M       # [1048576, 268435456]
    python -m bench.probe fake_gcs_binary     # the bundled fake-gcs-server

Each prints its value as JSON (`bench.common.probe` reads it). A child, because Linux carries a
driver's peak RSS into every step it spawns: the emulator's size parser comes with the whole
emulator package (some 10 MiB, more than a raw import's own peak), and fake-gcs-server's path
with its wrapper package.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any


def sizes(*texts: str) -> list[int]:
    """Sizes such as `256M` in bytes, by the emulator's own parser (the one place bench names it)."""
    from controller_emulator.cli import parse_size

    return [parse_size(text) for text in texts]


def fake_gcs_binary() -> str:
    from tests.fixtures.gcs_server import fake_gcs_binary

    return str(fake_gcs_binary())


PROBES: dict[str, Callable[..., Any]] = {
    "sizes": sizes,
    "fake_gcs_binary": fake_gcs_binary,
}

if __name__ == "__main__":
    print(json.dumps(PROBES[sys.argv[1]](*sys.argv[2:])))
