"""GEP's HTTP SDK (installable alone: needs only httpx, and gep.core for its value types).

from gep.client import GepClient
gep = GepClient("http://127.0.0.1:8000")
job = gep.execute("wait", {"seconds": 3}, wait=False)
final = gep.watch(job["jobID"], on_progress=print)
print(gep.results(job["jobID"]))
"""

from gep.client.sdk import GepClient, GepClientError

__all__ = ["GepClient", "GepClientError"]
