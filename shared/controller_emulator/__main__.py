"""`python -m controller_emulator`: the emulator without the full command line."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main(prog="python -m controller_emulator"))
