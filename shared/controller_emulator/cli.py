"""Command-line glue: `controller-backup emulator` (and `python -m controller_emulator`)."""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .emulator import Emulator, EmulatorConfig
from .state import DEFAULT_VERSION, VERSION_FORMS

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)(?:i?b)?\s*$", re.IGNORECASE)
_PASSWORD_ENV = "EMULATOR_PASSWORD"  # noqa: S105 - the variable's name, not its value


def parse_size(text: str) -> int:
    """`64K`, `1M`, `256MiB`, `1G` or a plain byte count -> bytes (binary units)."""
    match = _SIZE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 64K, 1M, 256M, 1G)")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Parse the emulator's flags, then serve: `python -m controller_emulator` and `controller-backup
    emulator` (which hands over every word after the command) both land here."""
    parser = argparse.ArgumentParser(prog=prog, description="Serve a controller emulator until Ctrl-C.")
    add_arguments(parser)
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # a no-op under controller-backup
    if args.verbose:
        logging.getLogger("controller_emulator").setLevel(logging.DEBUG)
    return run(args)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The emulator's flags."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    parser.add_argument("--size", type=parse_size, default=64 << 10, help="archive size: 64K, 1M, 256M, 1G")
    parser.add_argument("--seed", type=int, default=1, help="seed for deterministic content")
    parser.add_argument("--name", default="controller-a", help="controller name in the archive")
    parser.add_argument(
        "--version",
        default=DEFAULT_VERSION,
        help=f"software version as the controller reports it, in any real form: {', '.join(VERSION_FORMS)}",
    )
    parser.add_argument("--private-ip", default="10.0.0.10", help="private IP (a blank one's password)")
    parser.add_argument("--username", default="admin")
    parser.add_argument(
        "--password",
        default=os.environ.get(_PASSWORD_ENV),
        help=f"admin password (default: ${_PASSWORD_ENV}); required unless --blank",
    )
    parser.add_argument("--blank", action="store_true", help="a fresh controller, not set up yet")
    parser.add_argument("--api", choices=("v1", "v2"), default="v2", help="newest API the controller serves")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS (the CA to pin is printed)")
    parser.add_argument("--cid-lifetime", type=float, default=None, help="seconds a session lasts")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added before every answer")
    parser.add_argument("--error-5xx-rate", type=float, default=0.0, help="probability of HTTP 503")
    parser.add_argument(
        "--not-ready-seconds", type=float, default=0.0, help="answer as a booting controller at first"
    )
    parser.add_argument(
        "--bucket-root",
        default=None,
        help="native backups go to this folder (one sub-folder per bucket) instead of s3/gs/azblob",
    )
    parser.add_argument(
        "--native-delay", type=float, default=1.0, help="seconds a native backup or restore takes"
    )


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """The EmulatorConfig the parsed flags describe; ValueError names what is wrong."""
    if not args.blank and not args.password:
        raise ValueError(f"give --password or set {_PASSWORD_ENV} (or use --blank)")
    return EmulatorConfig(
        archive_size=args.size,
        seed=args.seed,
        name=args.name,
        version=args.version,
        private_ip=args.private_ip,
        username=args.username,
        password=args.password or "",
        blank=args.blank,
        api=args.api,
        tls=args.tls,
        cid_lifetime=args.cid_lifetime,
        latency=args.latency,
        error_5xx_rate=args.error_5xx_rate,
        host=args.host,
        port=args.port,
        bucket_root=args.bucket_root,
        native_backup_delay=args.native_delay,
        native_restore_delay=args.native_delay,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM; the exit status."""
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return 2
    try:
        emulator = Emulator(config).start()
    except OSError as exc:
        print(f"emulator: cannot listen on {config.host}:{config.port}: {exc.strerror}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        if args.not_ready_seconds > 0:
            emulator.reboot(args.not_ready_seconds)
        print(f"emulator listening on {emulator.url}", flush=True)
        if emulator.ca_file:
            print(f"emulator CA certificate: {emulator.ca_file}", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        emulator.stop()
    return 0
