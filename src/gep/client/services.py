"""Developing a service from the SDK: deploy, validate, share (``/processes``)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from gep.client.transport import Transport

#: a validation's states (``GET /processes/{id}/validation``)
RUNNING = "running"


class ServicesMixin(Transport):
    """``GepClient``'s service-developer methods."""

    def _process_path(self, process_id: str) -> str:
        return f"/processes/{quote(process_id, safe='')}"

    def validate(
        self, process_id: str, wait: bool = False, timeout_s: float = 600.0
    ) -> dict[str, Any]:
        """Run the samples a deployed package declares (its ``gep:Validation`` hint) as a job
        of yours; the validation, ``running`` (``wait``: its verdict, ``passed`` or ``failed``
        with ``reasons`` and the job's ``log``, polled for up to ``timeout_s``)."""
        started: dict[str, Any] = self._json(
            self.http.post(self._process_path(process_id) + "/validation")
        )
        if not wait:
            return started
        deadline = time.monotonic() + timeout_s
        delay = 0.2
        current = started
        while current.get("status") == RUNNING:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"the validation of '{process_id}' (job {started.get('jobID')}) had no "
                    f"verdict after {timeout_s:g} s"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)
            current = self.validation(process_id)
        return current

    def validation(self, process_id: str) -> dict[str, Any]:
        """A deployed package's last validation (its log when it is yours)."""
        found: dict[str, Any] = self._json(
            self.http.get(self._process_path(process_id) + "/validation")
        )
        return found

    def share_process(self, process_id: str, visibility: str) -> dict[str, Any]:
        """Offer a deployed service: ``private``, ``group:<name>`` or ``public``; beyond
        private only once a validation of its current package has passed (a 409 Conflict says
        why otherwise)."""
        shared: dict[str, Any] = self._json(
            self.http.patch(self._process_path(process_id), json={"visibility": visibility})
        )
        return shared

    def dry_run(self, process_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """Every check an execution makes (inputs, items and their hrefs, the quote, your
        credits and queue), nothing run, held or charged: ``{"dry_run": true, "valid": true,
        "quote": …}``, or the error a submission would raise."""
        checked: dict[str, Any] = self._json(
            self.http.post(
                self._process_path(process_id) + "/execution",
                params={"dry_run": "true"},
                json={"inputs": inputs},
            )
        )
        return checked
