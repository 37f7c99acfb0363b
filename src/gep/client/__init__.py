"""GEP's Python SDK: the HTTP API as typed methods and objects. It needs only httpx (tqdm for
progress bars and odc-stac for ``to_xarray`` are optional), and installs alone as the
``gep-client`` distribution (clients/python). See docs/sdk.md.

from gep.client import GepClient
gep = GepClient()                      # GEP_URL and GEP_TOKEN, or GepClient(url, token=…)
items = gep.search(collections="sentinel-1-slc", place="Etna", datetime="2024-01-01/..")
job = gep.submit("wait", seconds=3).wait()
print(job.succeeded, job.results())
"""

from gep.client.errors import (
    ArgumentError,
    BadRequest,
    Conflict,
    ConnectionFailed,
    Forbidden,
    GepClientError,
    GepTimeout,
    MissingDependency,
    NotFound,
    PayloadTooLarge,
    PaymentRequired,
    ServerError,
    TooManyRequests,
    Unauthorized,
)
from gep.client.jobs import Batch, Job, JobStatus
from gep.client.sdk import GepClient
from gep.client.search import ItemCollection

__all__ = [
    "ArgumentError",
    "BadRequest",
    "Batch",
    "Conflict",
    "ConnectionFailed",
    "Forbidden",
    "GepClient",
    "GepClientError",
    "GepTimeout",
    "ItemCollection",
    "Job",
    "JobStatus",
    "MissingDependency",
    "NotFound",
    "PayloadTooLarge",
    "PaymentRequired",
    "ServerError",
    "TooManyRequests",
    "Unauthorized",
]
