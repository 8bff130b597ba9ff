"""One concurrent writer, run as a script: `python writer.py URL DATA_FILE IF_MATCH`.

Opens the store and the data, prints "ready", waits for a line on stdin (so every writer starts
its `put` at the same moment, SDKs already loaded), then prints the result as one JSON line:
{"won": true, "etag": ...} or {"won": false, "code": <the error's stable code>}.
"""

from __future__ import annotations

import hashlib
import json
import sys

from controller_backup.errors import BackupError
from controller_backup.stores import IfMatch, SizedSource, open_store


def main(url: str, data_file: str, if_match: str) -> None:
    store = open_store(url)
    with open(data_file, "rb") as source:
        data = source.read()
        source.seek(0)
        metadata = {"sha256": hashlib.sha256(data).hexdigest(), "size": str(len(data))}
        print("ready", flush=True)
        sys.stdin.readline()
        try:
            info = store.put(SizedSource(source, len(data)), metadata, precondition=IfMatch(if_match))
        except BackupError as exc:
            print(json.dumps({"won": False, "code": exc.code, "error": exc.message}), flush=True)
            return
    print(json.dumps({"won": True, "etag": info.etag, "sha256": metadata["sha256"]}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
