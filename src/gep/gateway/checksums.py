"""What an asset says its file is (STAC file extension: ``file:checksum``, ``file:size``), and
checking bytes against it while they arrive.

``file:checksum`` is a multihash in hex: the hash function's code (an unsigned varint), the
digest's length, the digest. The functions the extension's examples and the archives GEP
harvests use are supported: SHA-1, SHA2-256, SHA2-512, MD5 and BLAKE2b-256. A checksum of
another kind, or one that is not a well-formed multihash, cannot be verified: the retrieval
says so in the job log and checks the size alone (refusing the product would punish the
user for the archive's metadata).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: multihash code → (name shown in logs, hashlib constructor, digest length)
_FUNCTIONS: dict[int, tuple[str, str, int]] = {
    0x11: ("sha1", "sha1", 20),
    0x12: ("sha2-256", "sha256", 32),
    0x13: ("sha2-512", "sha512", 64),
    0xD5: ("md5", "md5", 16),
    0xB220: ("blake2b-256", "blake2b", 32),
}


class UnverifiableChecksum(ValueError):
    """A ``file:checksum`` that GEP cannot check (unknown function or malformed)."""


@dataclass(frozen=True)
class Checksum:
    """A parsed multihash."""

    name: str
    hashlib_name: str
    digest: bytes
    #: the asset's own text (lower-case hex), kept to name the product in the cache
    text: str

    def hasher(self) -> Any:
        if self.hashlib_name == "blake2b":
            return hashlib.blake2b(digest_size=len(self.digest))
        return hashlib.new(self.hashlib_name)

    def multihash(self, digest: bytes) -> str:
        """``digest`` written as a multihash of this function (what a log shows as got)."""
        return self.text[: len(self.text) - 2 * len(self.digest)] + digest.hex()


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 28:
            raise UnverifiableChecksum("truncated varint")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7


def parse_multihash(text: str) -> Checksum:
    """The multihash ``text`` (hex); UnverifiableChecksum saying why it cannot be checked."""
    clean = text.strip().lower()
    try:
        raw = bytes.fromhex(clean)
    except ValueError:
        raise UnverifiableChecksum(f"'{text[:80]}' is not hexadecimal") from None
    code, at = _varint(raw, 0)
    length, at = _varint(raw, at)
    if code not in _FUNCTIONS:
        raise UnverifiableChecksum(f"hash function 0x{code:x} is not one GEP checks")
    name, lib, size = _FUNCTIONS[code]
    digest = raw[at:]
    if length != size or len(digest) != size:
        raise UnverifiableChecksum(f"a {name} digest is {size} bytes, not {len(digest)}")
    return Checksum(name, lib, digest, clean)


@dataclass(frozen=True)
class Expected:
    """What the bytes of an asset must be, as far as its metadata says."""

    checksum: Checksum | None = None
    size: int | None = None
    #: why a ``file:checksum`` given is not checked ('' when there was none or it is)
    unverifiable: str = ""

    @property
    def identity(self) -> str:
        """What tells two versions of a product apart (part of its cache key)."""
        return self.checksum.text if self.checksum else f"size={self.size}"


def expected_of(asset: Mapping[str, Any]) -> Expected:
    """The checks an asset's ``file:checksum`` and ``file:size`` call for."""
    size = asset.get("file:size")
    size = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
    text = asset.get("file:checksum")
    if not isinstance(text, str) or not text.strip():
        return Expected(size=size)
    try:
        return Expected(parse_multihash(text), size)
    except UnverifiableChecksum as exc:
        return Expected(size=size, unverifiable=f"file:checksum not verified: {exc}")


class Verifier:
    """Fed the bytes as they are written; says what is wrong with them at the end."""

    def __init__(self, expected: Expected) -> None:
        self.expected = expected
        self._hash = expected.checksum.hasher() if expected.checksum else None
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._hash is not None:
            self._hash.update(chunk)

    def problem(self) -> str | None:
        """None when the bytes are what the asset says; otherwise the reason, for the log."""
        exp = self.expected
        if exp.size is not None and self.size != exp.size:
            return f"wrong size: {self.size} bytes where file:size says {exp.size}"
        if exp.checksum is not None and self._hash is not None:
            got = self._hash.digest()
            if got != exp.checksum.digest:
                return (
                    f"wrong checksum: {exp.checksum.name} {exp.checksum.multihash(got)} where "
                    f"file:checksum says {exp.checksum.text}"
                )
        return None

    @property
    def verified(self) -> str:
        """What was checked, for the log."""
        done = [self.expected.checksum.name] if self.expected.checksum else []
        if self.expected.size is not None:
            done.append("size")
        return " and ".join(done) + " verified" if done else "nothing to verify"
