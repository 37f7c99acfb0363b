"""Offering a deployed service to others, as its developer must: validate it, then share it."""

from __future__ import annotations

import time
from typing import Any

#: the ``gep:Validation`` hint a test package carries (a CWL mapping, to put at its top level),
#: with a ``message`` string input and a ``result`` file output
ECHO_VALIDATION = """$namespaces: {gep: "https://gep.dev/cwl#"}
hints:
  gep:Validation:
    samples: {message: sample}
    expect:
      result: {contains: sample}
"""


def validate_and_share(
    client: Any, shares: dict[str, str], headers: dict[str, str], timeout_s: float = 90.0
) -> None:
    """Validate each deployed process of ``shares`` (process id → visibility) at once, wait for
    every verdict (each must pass), then share each one."""
    for pid in shares:
        r = client.post(f"/processes/{pid}/validation", headers=headers)
        assert r.status_code == 201, r.text
    deadline = time.monotonic() + timeout_s
    for pid, visibility in shares.items():
        while True:
            v = client.get(f"/processes/{pid}/validation", headers=headers).json()
            if v.get("status") != "running":
                break
            assert time.monotonic() < deadline, f"the validation of {pid} did not end: {v}"
            time.sleep(0.2)
        assert v["status"] == "passed", v
        r = client.patch(f"/processes/{pid}", json={"visibility": visibility}, headers=headers)
        assert r.status_code == 200, r.text
