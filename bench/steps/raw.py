"""The raw controller baselines: log in, then plain urllib3 with no checks at all.

What a backup or a restore must move at the least, to compare the product's steps with: `export`
streams `export_config` into a file; `import` posts a file to `import_config` as multipart;
`import_export` does both, as a verified restore must.
"""

from __future__ import annotations

import json
import os
from typing import BinaryIO, cast

import urllib3

from bench.steps import Args, measure

CHUNK = 1024 * 1024


class Session:
    """A logged-in session: the access key of `get_api_token`, and the CID `login` returns."""

    def __init__(self, url: str, password: str, username: str = "admin") -> None:
        self.api = url + "/v2/api"
        self.pool = urllib3.PoolManager(retries=False)
        token = json.loads(self.pool.request("GET", self.api, fields={"action": "get_api_token"}).data)
        self.key = {"X-Access-Key": token["results"]["api_token"]}
        fields = {"action": "login", "username": username, "password": password}
        answer = self.pool.request("POST", self.api, headers=self.key, encode_multipart=False, fields=fields)
        self.cid: str = json.loads(answer.data)["CID"]

    def export_to(self, path: str) -> None:
        """`export_config`, streamed into `path`."""
        fields = {"action": "export_config", "CID": self.cid}
        response = self.pool.request("GET", self.api, headers=self.key, fields=fields, preload_content=False)
        with open(path, "wb") as out:
            for chunk in response.stream(CHUNK):
                out.write(chunk)
        response.release_conn()

    def import_from(self, path: str) -> None:
        """`import_config` of the file at `path`, as a streamed multipart POST."""
        with open(path, "rb") as source:
            body = MultipartFile({"action": "import_config", "CID": self.cid}, source, os.path.getsize(path))
            headers = {**self.key, **body.headers}
            # urllib3 sends any object with read() in blocks of its own size (16 KiB)
            answer = self.pool.request("POST", self.api, body=cast(BinaryIO, body), headers=headers)
        if not json.loads(answer.data)["return"]:
            raise RuntimeError(f"import_config failed: {answer.data[:200]!r}")


class MultipartFile:
    """A multipart/form-data body: `fields`, then `source` as the part `file`, read lazily.

    Not the core's encoder (the controller client's): a baseline shares no code with the steps
    it is the measure of, so a slower encoder in the core shows in the restore's ratio, and this
    step loads urllib3 alone.
    """

    boundary = "benchboundary"

    def __init__(self, fields: dict[str, str], source: BinaryIO, size: int) -> None:
        head = "".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in fields.items()
        ).encode()
        head += (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.tar"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._parts: list[bytes | BinaryIO] = [head, source, tail]
        self.headers = {
            "Content-Type": f"multipart/form-data; boundary={self.boundary}",
            "Content-Length": str(len(head) + size + len(tail)),
        }

    def read(self, amount: int = CHUNK) -> bytes:
        while self._parts:
            part = self._parts[0]
            if isinstance(part, bytes):
                chunk, self._parts[0] = part[:amount], part[amount:]
            else:
                chunk = part.read(amount)
            if chunk:
                return chunk
            self._parts.pop(0)
        return b""


def export(args: Args) -> None:
    """Log in, then `export_config` straight into `path`."""
    Session(args["url"], args["password"]).export_to(args["path"])


def import_(args: Args) -> None:
    """Log in, then `import_config` of `path`."""
    Session(args["url"], args["password"]).import_from(args["path"])


def import_export(args: Args) -> None:
    """`import`, then `export` into `path` + ".check": what a verified restore moves at the least."""
    session = Session(args["url"], args["password"])
    session.import_from(args["path"])
    session.export_to(args["path"] + ".check")


if __name__ == "__main__":
    measure({"export": export, "import": import_, "import_export": import_export})
