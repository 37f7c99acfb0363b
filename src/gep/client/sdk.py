"""A small synchronous client for the GEP API (processes and jobs for now)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from gep.core.enums import FINAL_STATUSES, JobStatus


class GepClientError(Exception):
    """The server answered with a problem (RFC 7807); ``problem`` holds its body."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(problem.get("detail") or problem.get("title") or f"HTTP {status}")


class GepClient:
    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        http: httpx.Client | None = None,
        timeout: float = 120.0,
        token: str | None = None,
    ) -> None:
        """``token``: an API token (``gep users create --token`` or ``POST /accounts/tokens``),
        sent as ``Authorization: Bearer``; anonymous callers only read public things."""
        headers = {"Authorization": f"Bearer {token}"} if token else None
        self.http = http or httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, headers=headers
        )

    def _json(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text}
            raise GepClientError(response.status_code, problem)
        return response.json()

    # ------------------------------------------------------------------ processes
    def processes(self) -> list[dict[str, Any]]:
        return list(self._json(self.http.get("/processes"))["processes"])

    def process(self, process_id: str) -> dict[str, Any]:
        return dict(self._json(self.http.get(f"/processes/{process_id}")))

    def deploy(
        self,
        package: bytes,
        media_type: str = "application/cwl+yaml",
        *,
        replace: str | None = None,
    ) -> dict[str, Any]:
        """Deploy an application package, or replace the deployed process ``replace``."""
        headers = {"content-type": media_type}
        if replace is not None:
            r = self.http.put(f"/processes/{replace}", content=package, headers=headers)
            if r.status_code == 204:
                return {"id": replace}
            return dict(self._json(r))
        return dict(self._json(self.http.post("/processes", content=package, headers=headers)))

    def undeploy(self, process_id: str) -> None:
        r = self.http.delete(f"/processes/{process_id}")
        if r.status_code != 204:
            self._json(r)

    def execute(
        self, process_id: str, inputs: dict[str, Any], *, wait: bool = True
    ) -> dict[str, Any]:
        """Synchronous (the outputs) when ``wait``; otherwise the new job's status.

        A synchronous execution that outlasts the server's sync timeout is answered 201 with
        the job (it goes on, and is charged once): the client follows it to its results
        rather than submitting again."""
        headers = {} if wait else {"Prefer": "respond-async"}
        r = self.http.post(
            f"/processes/{process_id}/execution", json={"inputs": inputs}, headers=headers
        )
        info = dict(self._json(r))
        if wait and r.status_code == 201:
            self.watch(str(info["jobID"]))
            return self.results(str(info["jobID"]))  # a failed job raises its problem
        return info

    # ------------------------------------------------------------------ jobs
    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self._json(self.http.get(f"/jobs/{job_id}")))

    def jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        process_id: str | None = None,
        limit: int = 10,
    ) -> list[dict[str, Any]]:
        """Jobs the caller may see, newest first; ``status`` one or several, comma-separated."""
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = str(status)
        if process_id:
            params["processID"] = process_id
        return list(self._json(self.http.get("/jobs", params=params))["jobs"])

    def results(self, job_id: str) -> dict[str, Any]:
        return dict(self._json(self.http.get(f"/jobs/{job_id}/results")))

    def logs(self, job_id: str, *, level: str | None = None) -> list[dict[str, Any]]:
        params = {"level": level} if level else {}
        return list(self._json(self.http.get(f"/jobs/{job_id}/logs", params=params))["logs"])

    def dismiss(self, job_id: str) -> dict[str, Any]:
        return dict(self._json(self.http.delete(f"/jobs/{job_id}")))

    def watch(
        self,
        job_id: str,
        *,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        interval: float = 0.5,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Poll until the job ends; ``on_progress`` sees each new status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last: tuple[str, int, str] | None = None
        while True:
            info = self.job(job_id)
            key = (info["status"], info.get("progress", 0), info.get("message", ""))
            if on_progress is not None and key != last:
                on_progress(info)
            last = key
            if info["status"] in FINAL_STATUSES:
                return info
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {info['status']} after {timeout} s")
            time.sleep(interval)
