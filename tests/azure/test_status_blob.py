"""`status` on Azure Blob Storage (Azurite): Azurite keeps no blob versions, so a real backup there
reads `unversioned`, as it would on an account with versioning off."""

from __future__ import annotations

from dataclasses import replace

import pytest
from controller_backup.inspection import warn_if_unversioned
from controller_backup.settings import Settings
from controller_backup.stores import open_store

from tests.fixtures.azure import ACCOUNT, Azurite
from tests.integration.helpers import backup
from tests.integration.status_helpers import UNVERSIONED, status_view


def test_azurite_is_unversioned(
    settings: Settings, azurite_env: Azurite, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"azblob://{ACCOUNT}/{azurite_env.new_container()}/controllers/prod/backup.tar"
    azure = replace(settings, backup_url=url)
    code, rows = status_view(capsys, url)
    assert code == 8 and rows["verdict"] == "MISSING: no backup is stored there"
    # Azure tells versioning by the blob itself: with no blob, it cannot tell
    assert rows["versioning"] == "unknown: the store did not say (a note says why when it failed)"
    result = backup(azure)
    code, rows = status_view(capsys, url)
    assert code == 15
    assert rows["verdict"] == f"UNVERSIONED: {UNVERSIONED}"
    assert rows["sha256"] == result.sha256[:16] and rows["versions"].startswith("1 kept, ")
    assert warn_if_unversioned(open_store(url)) == f"{url}: {UNVERSIONED}"
