"""A real S3 server for the tests: SeaweedFS (``weed server -s3``) on loopback, never a mock.

The server is started by ``bench.seaweed.running_seaweed`` (the one starter: the benchmarks
import nothing from ``tests``, the tests may import from ``bench``), once per test session
(about 5 s); each test gets a prefix of its own in one shared bucket, so tests never see
each other's keys.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bench.seaweed import CREDENTIALS, running_seaweed

__all__ = ["CREDENTIALS", "S3Server", "seaweed_server"]


#: the one bucket the tests share: SeaweedFS gives each bucket volumes of its own, and a
#: bucket per test ran it out of volume slots (InternalError on PutObject) mid-session
BUCKET = "gep-tests"


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    def new_place(self) -> str:
        """A fresh ``bucket/prefix`` of the shared bucket (created on first write)."""
        return f"{BUCKET}/{uuid.uuid4().hex[:12]}"


@contextmanager
def seaweed_server(timeout_s: float = 60.0) -> Iterator[S3Server]:
    with running_seaweed(timeout_s) as endpoint:
        yield S3Server(endpoint)
