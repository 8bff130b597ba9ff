"""`controller-backup`: the operator's command line.

Settings come from the environment (the README's configuration table) and flags override them. Every command
prints a short human line, or with `--json` the same JSON result the cloud functions return.
Exit codes (stable, one per failure kind):

    0 ok                      5 timeout                 9 integrity (hash/size/verify)
    1 unexpected (internal)   6 controller error        10 refused by a safety rule: the message
    2 bad settings/arguments  7 invalid export             names the flag that lifts it
    3 auth                    8 store (incl. not found, access denied, precondition failed)
    4 not ready               11 check: at least one line failed
    12 conflict (a reused restore key, no flag lifts it)
    13 forbidden target       14 status: stale          15 status: unversioned store
    16 verify: a destination would not restore (each named)
    130 interrupted

Errors go to stderr, once; with --json the error object goes to stdout instead.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from controller_backup import __version__
from controller_backup.errors import FAILURE_RECORD, BackupError, SettingsError, unexpected_failure
from controller_backup.inspection import DEFAULT_MAX_AGE, DEFAULT_VERSIONS_LIMIT
from controller_backup.progress import Display, LoggedWaits, showing
from controller_backup.settings import Settings
from controller_backup.stores import open_store, store_kind

log = logging.getLogger("controller_backup.cli")


def _add_settings_flags(parser: argparse.ArgumentParser, controller: bool = True) -> None:
    group = parser.add_argument_group("settings (override the environment)")
    if controller:
        group.add_argument("--controller-url", help="CONTROLLER_URL: https://host of the controller")
        group.add_argument("--username", help="CONTROLLER_USERNAME (default admin)")
        group.add_argument(
            "--password-ref",
            help="CONTROLLER_PASSWORD as a secret reference, e.g. env:NAME or aws-sm:NAME",
        )
        group.add_argument("--ca-bundle", help="CONTROLLER_CA_BUNDLE: PEM file to trust")
        group.add_argument(
            "--tls-server-name",
            help="CONTROLLER_TLS_SERVER_NAME: the name in the controller's certificate, when the URL uses "
            "an address the certificate does not list",
        )
        group.add_argument(
            "--insecure", action="store_true", help="CONTROLLER_VERIFY_TLS=false (not recommended)"
        )
        group.add_argument(
            "--allow-http",
            action="store_true",
            help="CONTROLLER_ALLOW_HTTP=true: accept a plain http:// controller (a local emulator only)",
        )
        group.add_argument(
            "--mode",
            choices=("native", "export"),
            help="CONTROLLER_BACKUP_MODE: native (a real controller, the default) or export (a controller, "
            "proxy or emulator that serves export_config)",
        )
    group.add_argument("--backup-url", help="BACKUP_URL: s3://, gs://, azblob://, file:// or a path")


def _settings(args: argparse.Namespace, controller_required: bool = True) -> Settings:
    return Settings.from_env(
        controller_required=controller_required,
        controller_url=args.controller_url,
        username=args.username,
        password_ref=args.password_ref,
        ca_bundle=args.ca_bundle,
        tls_server_name=getattr(args, "tls_server_name", None),
        verify_tls="false" if args.insecure else None,
        allow_http="true" if getattr(args, "allow_http", False) else None,
        mode=getattr(args, "mode", None),
        backup_url=args.backup_url,
        min_size_ratio=getattr(args, "min_size_ratio", None),
    )


def _backup_url(args: argparse.Namespace) -> str:
    import os

    url = args.backup_url or os.environ.get("BACKUP_URL", "")
    if not url:
        raise SettingsError("invalid settings: BACKUP_URL is required")
    store_kind(url)
    return url


def _cmd_backup(args: argparse.Namespace) -> dict[str, Any]:
    from controller_backup.backup import run_backup

    result = run_backup(_settings(args), allow_shrink=args.allow_shrink, trigger="cli")
    return result.to_dict()


def _cmd_restore(args: argparse.Namespace) -> dict[str, Any]:
    from controller_backup.restore import run_restore
    from controller_backup.targets import configured_target, operator_target

    settings = _settings(args, controller_required=not args.target_url)
    target = (
        operator_target(settings, args.target_url, args.private_ip)
        if args.target_url
        else configured_target(settings, args.private_ip)
    )
    result = run_restore(
        settings,
        target=target,
        version_id=args.version_id,
        dry_run=args.dry_run,
        overwrite_configured=args.overwrite_configured,
        allow_old_backup=args.allow_old_backup,
        allow_version_mismatch=args.allow_version_mismatch,
        allow_shrink=args.allow_shrink,
        idempotency_key=args.idempotency_key,
        source=args.source,
    )
    return result.to_dict()


def _cmd_status(args: argparse.Namespace) -> int:
    """The primary's status, then each copy's; the exit code is the first destination's that fails."""
    from controller_backup.destinations import destinations, open_destination
    from controller_backup.inspection import backup_status
    from controller_backup.status_view import destination_label, render_status

    settings = Settings.for_stores(backup_url=args.backup_url)
    statuses = [
        backup_status(
            open_destination(settings, url),
            max_age=args.max_age,
            read=not args.no_read,
            beside=functools.partial(open_destination, settings, url),
        )
        for url in destinations(settings)
    ]
    primary, copies = statuses[0], statuses[1:]
    if args.json:
        answer = primary.to_dict()
        if copies:
            answer["copies"] = [status.to_dict() for status in copies]
        print(json.dumps(answer))
    else:
        print("\n\n".join(render_status(status, destination_label(n)) for n, status in enumerate(statuses)))
    return next((status.exit_code for status in statuses if status.exit_code), 0)


def _cmd_versions(args: argparse.Namespace) -> int:
    """Each destination's kept versions, the primary first; a copy with none says so."""
    from controller_backup.destinations import destinations, open_destination
    from controller_backup.inspection import version_history
    from controller_backup.status_view import destination_label, render_versions

    settings = Settings.for_stores(backup_url=args.backup_url)
    listed, views = [], []
    for number, url in enumerate(destinations(settings)):
        try:
            entries, more = version_history(open_destination(settings, url), args.limit)
        except BackupError as exc:
            if number == 0:
                raise
            views.append(f"{destination_label(number)} {url}: no versions ({exc.message})")
            continue
        listed += [{**entry.to_dict(), "url": url} for entry in entries]
        heading = f"{destination_label(number)} {url}:\n" if settings.copy_urls else ""
        views.append(heading + render_versions(entries, more))
    print(json.dumps(listed) if args.json else "\n\n".join(views))
    return 0


def _cmd_verify(args: argparse.Namespace) -> dict[str, Any]:
    """One kept version (BACKUP_URL alone), or the readiness check of the deployment's destinations."""
    if args.version_id:
        from controller_backup.inspection import verify_backup

        if args.all:
            raise SettingsError("verify: --version-id checks one version of BACKUP_URL; leave --all out")
        return verify_backup(open_store(_backup_url(args)), args.version_id)
    from controller_backup.verify import run_verify

    settings = Settings.from_env(controller_required=False, backup_url=args.backup_url)
    return run_verify(settings, all_destinations=args.all, trigger="cli").to_dict()


#: `check` found a line that fails (warnings and skips alone exit 0)
CHECK_FAILED = 11


def _cmd_check(args: argparse.Namespace) -> int:
    from controller_backup.check import run_check

    if args.verbose == 0:  # the lines printed below say it all; the log's summary would repeat them
        logging.getLogger("controller_backup.check").setLevel(logging.ERROR)
    report = run_check(load_settings=lambda: _settings(args))
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        width = max(len(line.name) for line in report.lines)
        for line in report.lines:
            print(f"{line.verdict:<4}  {line.name:<{width}}  {line.detail}")
        counts = ", ".join(f"{number} {verdict}" for verdict, number in report.counts().items())
        print(f"check {report.status}: {counts}")
    return 0 if report.ok else CHECK_FAILED


#: what installs the emulator's libraries, named whenever one is missing
_EMULATOR_INSTALL = "pip install 'controller-backup[emulator]' ('.[emulator]' from a checkout)"


@contextmanager
def _emulator_imported(error: Callable[[str], Exception] = SettingsError) -> Iterator[None]:
    """Around each import of the emulator (its two commands): a missing library of the `emulator`
    extra is an `error` naming the install line, never a traceback. One of our own modules failing
    to import is a bug, left to be reported with its traceback."""
    try:
        yield
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] in ("controller_backup", "controller_emulator"):
            raise
        missing = exc.name or str(exc)
        raise error(f"the emulator needs {missing}, which is not installed: {_EMULATOR_INSTALL}") from exc


def _cmd_demo(args: argparse.Namespace) -> dict[str, Any]:
    with _emulator_imported():
        from controller_emulator.demo import run_demo

    return run_demo(size=args.size, workdir=args.workdir, quiet=args.json)


def _human(result: dict[str, Any]) -> str:
    job = result.get("job", "")
    status = result.get("status", "")
    if job in ("backup", "restore"):
        return (
            f"{job} {status}: {result.get('object')} version {result.get('version_id')} "
            f"{result.get('size')} bytes sha256 {str(result.get('sha256'))[:16]}... "
            f"controller version {result.get('controller_version')} in {result.get('duration_ms')} ms"
        )
    if job == "verify" and "destinations" in result:
        checked = len(result["destinations"])
        lines = [f"verify {status}: {checked} destination(s) in {result.get('duration_ms')} ms"]
        lines += [
            f"  {found['status']:<6} {found['url']} version {found['version_id']} ({found['kind']}, "
            f"{found['age_seconds']} s old)"
            for found in result["destinations"]
        ]
        return "\n".join(lines)
    return json.dumps(result, indent=2, default=str)


def _duration(text: str) -> float:
    from controller_backup.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)


def _parse_size(text: str) -> int:
    """`demo --size`, in the emulator's units (8M, 256K); read while the arguments are parsed, so a
    missing library is a usage error."""
    with _emulator_imported(argparse.ArgumentTypeError):
        from controller_emulator.cli import parse_size

    return parse_size(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="controller-backup",
        description="Back up and restore a network controller's configuration.",
        epilog=(__doc__ or "").split("Exit codes", 1)[-1].join(("Exit codes", "")),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Callable[[argparse.Namespace], Any], help_text: str) -> Any:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        cmd.set_defaults(handler=handler)
        cmd.add_argument(
            "-v",
            "--verbose",
            action="count",
            default=0,
            dest="command_verbose",
            help="more log output (-vv: debug)",
        )
        cmd.add_argument("--json", action="store_true", help="print the JSON result")
        return cmd

    backup = command("backup", _cmd_backup, "export the controller's configuration into the stored object")
    _add_settings_flags(backup)
    backup.add_argument("--min-size-ratio", help="BACKUP_MIN_SIZE_RATIO (default 0.5)")
    backup.add_argument(
        "--allow-shrink",
        action="store_true",
        help="replace the stored backup even with a much smaller export (BACKUP_MIN_SIZE_RATIO)",
    )

    restore = command("restore", _cmd_restore, "push the stored configuration into a controller")
    _add_settings_flags(restore)
    restore.add_argument(
        "--target-url",
        help="restore into this fresh replacement instead of CONTROLLER_URL, which it then does not "
        "need (logged into as admin with --private-ip; the configured password goes only to CONTROLLER_URL)",
    )
    restore.add_argument("--private-ip", help="the target's private IP (a fresh controller's password)")
    restore.add_argument("--version-id", help="restore this stored version instead of the newest")
    restore.add_argument(
        "--from",
        dest="source",
        metavar="URL",
        help="read this destination (BACKUP_URL or one of BACKUP_COPY_URLS) instead of the primary, or "
        "the newest copy that verifies when the primary does not",
    )
    restore.add_argument("--dry-run", action="store_true", help="check everything, change nothing")
    restore.add_argument(
        "--overwrite-configured",
        action="store_true",
        help="restore into a controller that is already set up (and may hold configuration)",
    )
    restore.add_argument(
        "--allow-old-backup", action="store_true", help="restore a backup older than RESTORE_MAX_BACKUP_AGE"
    )
    restore.add_argument(
        "--allow-version-mismatch", action="store_true", help="restore onto another controller version"
    )
    restore.add_argument(
        "--allow-shrink",
        action="store_true",
        help="native mode: let the restored controller's first backup replace a much larger stored one",
    )
    restore.add_argument(
        "--idempotency-key",
        help="name this restore (e.g. the replacement's instance id): a repeat is a no-op once done, "
        "and an interrupted one resumes",
    )

    status = command(
        "status",
        _cmd_status,
        "judge the stored backup (healthy, stale, missing, unreadable, unversioned) and show why",
    )
    _add_settings_flags(status, controller=False)
    status.add_argument(
        "--max-age",
        type=_duration,
        default=DEFAULT_MAX_AGE,
        help="stale (exit 14) when the last successful backup is older: 25h (the default, the alarms' "
        "threshold), 90m, 2d, 3600s",
    )
    status.add_argument(
        "--no-read", action="store_true", help="judge the metadata only; do not download and check the bytes"
    )

    versions = command(
        "versions", _cmd_versions, "list the kept versions, newest first, for restore --version-id"
    )
    _add_settings_flags(versions, controller=False)
    versions.add_argument(
        "--limit", type=_positive, default=DEFAULT_VERSIONS_LIMIT, help="show at most this many (default 20)"
    )

    verify = command(
        "verify",
        _cmd_verify,
        "the readiness check: download the stored backup, check its hash, structure and age (native "
        "mode: and the controller's own files); exit 16 when it would not restore",
    )
    _add_settings_flags(verify, controller=False)
    verify.add_argument(
        "--all", action="store_true", help="every destination (BACKUP_COPY_URLS too), not the primary alone"
    )
    verify.add_argument(
        "--version-id", help="check one stored version of BACKUP_URL only (writes no readiness record)"
    )

    check = command(
        "check",
        _cmd_check,
        "check, changing nothing, that the settings, secrets, controller and buckets can work",
    )
    _add_settings_flags(check)

    # The emulator's flags are its own (controller_emulator.cli), read when the command runs, so
    # building this parser never imports the emulator: every word after `emulator` (-h and -v too)
    # passes through, since no option string starts with the NUL this subparser prefixes them with.
    emulator_help = "run a controller emulator (for tests and dry runs; -h lists its flags)"
    emulator = sub.add_parser(
        "emulator", help=emulator_help, description=emulator_help, add_help=False, prefix_chars="\0"
    )
    emulator.set_defaults(handler=_run_emulator, command_verbose=0)
    emulator.add_argument("emulator_args", nargs="*", help=argparse.SUPPRESS)

    demo = command("demo", _cmd_demo, "back up an emulated controller and restore it into a blank one")
    demo.add_argument("--size", type=_parse_size, default=8 * 1024 * 1024, help="archive size (8M)")
    demo.add_argument("--workdir", help="keep the demo's backup folder here (default: a temp dir)")
    return parser


def _run_emulator(args: argparse.Namespace) -> int:
    with _emulator_imported():
        from controller_emulator.cli import main as serve

    return serve(args.emulator_args, prog="controller-backup emulator")


#: the commands that transfer or wait, and so show progress
_SHOWS_PROGRESS = ("backup", "restore", "verify", "status")


def _progress(
    command: str, json_mode: bool
) -> tuple[Display | None, logging.Handler, AbstractContextManager[object]]:
    """Who shows the job's progress, the log handler that suits it, and the context it lives in:
    bars at a terminal (rich, the `cli` extra; log lines go through its console), each wait as a
    log line without one (or without rich), nothing with --json."""
    plain = logging.StreamHandler(sys.stderr)
    if json_mode or command not in _SHOWS_PROGRESS:
        return None, plain, nullcontext()
    if sys.stderr.isatty():
        try:
            from controller_backup.terminal import TerminalDisplay
        except ImportError:  # `main` says what is missing once logging is set up
            pass
        else:
            terminal = TerminalDisplay()
            return terminal, terminal.log_handler(), terminal
    return LoggedWaits(), plain, nullcontext()


def _configure_logging(verbosity: int, quiet: bool, handler: logging.Handler) -> None:
    level = logging.WARNING if quiet and verbosity == 0 else logging.INFO
    if verbosity >= 2:
        level = logging.DEBUG
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_not_the_job_failure)
    logging.basicConfig(level=level, handlers=[handler])
    if verbosity == 0:
        logging.getLogger("controller_backup.controller").setLevel(logging.WARNING)


def _not_the_job_failure(record: logging.LogRecord) -> bool:
    """The job's own ERROR line about its failure repeats what `main` prints: shown once, there."""
    return not hasattr(record, FAILURE_RECORD)


def _print_error(error: dict[str, str], json_mode: bool) -> None:
    """An error, once: with --json the JSON object on stdout (the machine form), else one line on
    stderr."""
    if json_mode:
        print(json.dumps(error))
    else:
        print(f"error [{error['code']}]: {error['error']}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.verbose += args.command_verbose  # -v counts before and after the command
    json_mode = bool(getattr(args, "json", False))
    display, handler, live = _progress(args.command, json_mode)
    _configure_logging(args.verbose, json_mode or args.command == "demo", handler)
    if isinstance(display, LoggedWaits) and sys.stderr.isatty():
        log.warning("no progress bars: they need rich (pip install 'controller-backup[cli]')")
    try:
        with live, showing(display) if display is not None else nullcontext():
            outcome = args.handler(args)
    except BackupError as exc:
        _print_error(exc.to_dict(), json_mode)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception:
        log.exception("unexpected failure")
        _print_error(unexpected_failure(), json_mode)
        return 1
    if isinstance(outcome, int):
        return outcome
    if json_mode:
        print(json.dumps(outcome, default=str))
    elif args.command != "demo":  # the demo narrates as it goes
        print(_human(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main())
