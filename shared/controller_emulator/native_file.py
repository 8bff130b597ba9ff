"""The emulator's `CloudN_<ip>_save_cloudx_config.enc`: an opaque, encrypted configuration backup.

Layout: `MAGIC`, a 16-byte nonce, the encryption of (a 4-byte big-endian length, a JSON header,
the configuration archive), then the sha256 of that plaintext. The key is the emulated product's
and the same in every emulator (a replacement must read the old controller's backup, as a real
one does); the nonce is random, so two backups of one configuration differ byte for byte, as real
ones do, and nobody can find a tar archive in them. The keystream is a seeded PRNG: this gives
opacity for tests, not secrecy. The header carries what a real backup's database carries besides
the configuration: the admin login and the controller's own backup settings.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import struct
from collections.abc import Iterable
from typing import Any, BinaryIO

MAGIC = b"AVX-EMU-ENC/1\n"
_KEY = b"controller-backup emulator product key"
_NONCE = 16
_DIGEST = 32
_LENGTH = struct.Struct(">I")
_HEADER_MAX = 1 << 20
_BLOCK = 1 << 16
_CHUNK = 1 << 20


class SealedFileError(ValueError):
    """The bytes are not a whole backup file of this emulator."""


class _Keystream:
    """XOR with a PRNG stream whose bytes do not depend on how the data is chunked."""

    def __init__(self, nonce: bytes) -> None:
        self._rng = random.Random(_KEY + nonce)
        self._buffer = b""

    def apply(self, data: bytes) -> bytes:
        if not data:
            return data
        while len(self._buffer) < len(data):
            self._buffer += self._rng.randbytes(max(_BLOCK, len(data) - len(self._buffer)))
        pad, self._buffer = self._buffer[: len(data)], self._buffer[len(data) :]
        return (int.from_bytes(data, "big") ^ int.from_bytes(pad, "big")).to_bytes(len(data), "big")


def seal(header: dict[str, Any], archive: Iterable[bytes], out: BinaryIO) -> int:
    """Write the backup file for `header` and the archive's chunks; return its length."""
    nonce = secrets.token_bytes(_NONCE)
    keystream, digest = _Keystream(nonce), hashlib.sha256()
    out.write(MAGIC + nonce)
    written = len(MAGIC) + _NONCE
    encoded = json.dumps(header, sort_keys=True).encode()

    def emit(data: bytes) -> None:
        nonlocal written
        digest.update(data)
        out.write(keystream.apply(data))
        written += len(data)

    emit(_LENGTH.pack(len(encoded)) + encoded)
    for chunk in archive:
        emit(chunk)
    out.write(digest.digest())
    return written + _DIGEST


def unseal(source: BinaryIO, size: int, archive_out: BinaryIO) -> dict[str, Any]:
    """Decrypt a backup file of `size` bytes: the archive goes to `archive_out`, the header is returned."""
    body = size - len(MAGIC) - _NONCE - _DIGEST
    if body < _LENGTH.size or source.read(len(MAGIC)) != MAGIC:
        raise SealedFileError("not a backup file of this controller's format")
    keystream, digest = _Keystream(source.read(_NONCE)), hashlib.sha256()

    def take(amount: int) -> bytes:
        data = source.read(amount)
        if len(data) != amount:
            raise SealedFileError("the backup file is truncated")
        plain = keystream.apply(data)
        digest.update(plain)
        return plain

    (length,) = _LENGTH.unpack(take(_LENGTH.size))
    if length > min(_HEADER_MAX, body - _LENGTH.size):
        raise SealedFileError("the backup file's header is damaged")
    try:
        header = json.loads(take(length))
    except ValueError:
        raise SealedFileError("the backup file's header is damaged") from None
    left = body - _LENGTH.size - length
    while left:
        chunk = take(min(_CHUNK, left))
        archive_out.write(chunk)
        left -= len(chunk)
    if source.read(_DIGEST) != digest.digest():
        raise SealedFileError("the backup file is damaged (its checksum does not match)")
    if not isinstance(header, dict):
        raise SealedFileError("the backup file's header is damaged")
    return header
