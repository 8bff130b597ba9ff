"""The one JSON result every trigger returns or logs (README "Function results")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class JobResult:
    """A finished job. `status` is "ok", "unchanged" (a backup that wrote nothing: the export
    equalled the stored object), "dry-run" or "already-restored"."""

    job: str
    status: str
    object: str
    version_id: str | None
    sha256: str
    size: int
    controller_version: str | None
    duration_ms: int
    controller: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "job": self.job,
            "object": self.object,
            "version_id": self.version_id,
            "sha256": self.sha256,
            "size": self.size,
            "controller_version": self.controller_version,
            "controller": self.controller,
            "duration_ms": self.duration_ms,
            **self.details,
        }
