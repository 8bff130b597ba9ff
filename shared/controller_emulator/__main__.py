"""`python -m controller_emulator`: the emulator without the full command line."""

from __future__ import annotations

import argparse
import logging

from .cli import add_arguments, run


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m controller_emulator", description=__doc__)
    add_arguments(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
