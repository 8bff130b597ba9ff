"""The product's own entry points, `run_backup` and `run_restore`, the same in every benchmark.

The store is the one `args["store"]` names (a local path, `s3://`, `azblob://`, `gs://`); a cloud's
credentials and endpoints come from the environment the driver gives this process.
"""

from __future__ import annotations

from controller_backup.backup import run_backup
from controller_backup.restore import run_restore
from controller_backup.settings import Settings
from controller_backup.targets import configured_target

from bench.steps import Args, measure


def _settings(args: Args, **extra: str) -> Settings:
    return Settings.from_env(
        {
            "CONTROLLER_URL": args["url"],
            "CONTROLLER_PASSWORD": args["password"],
            "BACKUP_URL": args["store"],
            "CONTROLLER_BACKUP_MODE": "export",
            "CONTROLLER_ALLOW_HTTP": "true",
            **extra,
        }
    )


def backup(args: Args) -> None:
    """A backup of the controller at `url` into `store` (no shrink rule: the sizes vary by run)."""
    run_backup(_settings(args, BACKUP_MIN_SIZE_RATIO="0"), trigger="bench")


def restore(args: Args) -> None:
    """A restore from `store` into the blank controller at `url`, whose private IP is `private_ip`."""
    settings = _settings(args)
    target = configured_target(settings, args["private_ip"])
    run_restore(settings, target=target, overwrite_configured=args.get("overwrite_configured", False))


if __name__ == "__main__":
    measure({"backup": backup, "restore": restore})
