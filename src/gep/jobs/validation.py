"""Validating a deployed service before it is offered to others.

A package declares samples and expectations (:mod:`gep.processes.validation`); validating it
submits the samples as an ordinary job of its developer's (the same checks, queue, credits and
log as any execution) and records a validation ``running``. The verdict is reached when the
job has ended, by whoever reads the validation next (its route, the service's description, a
share, the next validation): a conditional update records it once, and since everything it
reads is in the database and storage, a server restart loses nothing. A verdict fails with
each broken expectation named (``outputs.<name>: …``), or with the job's own failure.

Sharing a deployed service beyond its developer (``group:…``, ``public``) needs a passed
validation of the package as it is now (:meth:`Validations.check_shareable`).
"""

from __future__ import annotations

import math
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from gep.core.access import SYSTEM, Viewer
from gep.core.enums import FINAL_STATUSES, JobStatus
from gep.core.errors import Conflict, GepError, InvalidInput, NotFound
from gep.core.timeutil import format_rfc3339, from_micros
from gep.gateway.storage import Storage
from gep.jobs.deployed import (
    VALIDATION_FAILED,
    VALIDATION_PASSED,
    VALIDATION_RUNNING,
    DeployedStore,
    ValidationRecord,
    package_sha,
)
from gep.jobs.publish import result_items
from gep.jobs.service import JobService
from gep.processes.cwl import CwlProcess
from gep.processes.validation import HINT, Expectation, ValidationSpec

#: how much of a text file ``contains`` reads
CONTAINS_BYTES = 1 << 20
#: how many of the job's log lines a verdict keeps
LOG_LINES = 500
_ITEM_REF = re.compile(r"^[^/\s]+/[^/\s]+$")


@dataclass
class Validations:
    """Validations of deployed packages, over the job service (one per request is cheap)."""

    jobs: JobService

    @property
    def deployed(self) -> DeployedStore:
        return self.jobs.deployed

    # ------------------------------------------------------------------ running one

    def spec(self, process_id: str) -> ValidationSpec:
        """The package's declaration; 409 naming the hint when it declares none."""
        process = self.jobs.processes.get(process_id)
        spec = process.validation if isinstance(process, CwlProcess) else None
        if spec is None:
            raise Conflict(
                f"process '{process_id}' declares no samples to validate it with: add a "
                f"{HINT} hint with samples (its inputs) and expect (what its outputs must be) "
                f"to the package, and PUT /processes/{process_id} it again",
                field=HINT,
            )
        return spec

    async def start(self, viewer: Viewer, process_id: str) -> ValidationRecord:
        """Submit the samples as ``viewer``'s job and record a running validation. 409 while
        another validation of the package is running; a sample the job service refuses (an
        item that does not exist for the developer, an unreadable href) is a 400 on
        ``gep:Validation.samples.<input>``, as a submission's would be on ``inputs.<input>``."""
        spec = self.spec(process_id)
        for rec in self.deployed.running_validations(process_id):
            if self.settle(rec).status == VALIDATION_RUNNING:
                raise Conflict(
                    f"a validation of '{process_id}' is running (job {rec.job_id}); its "
                    f"verdict comes at GET /processes/{process_id}/validation",
                    field="processId",
                    jobID=rec.job_id,
                )
        sha = package_sha(self.deployed.package(process_id)[0])
        try:
            submitted = await self.jobs.submit(
                viewer, process_id, {"inputs": spec.samples}, respond_async=True
            )
        except InvalidInput as exc:
            field = exc.field or "inputs"
            field = HINT + ".samples" + field.removeprefix("inputs")
            raise InvalidInput(
                f"the package's samples cannot run: {exc.message}", field=field, **exc.extra
            ) from None
        vid = self.deployed.start_validation(process_id, sha, viewer.user_id, submitted.job.id)
        return self.deployed.validation(vid)

    # ------------------------------------------------------------------ verdicts

    def last(self, process_id: str) -> ValidationRecord | None:
        """The newest validation of a package, its verdict reached if its job has ended."""
        found = self.deployed.validations(process_id, limit=1)
        return self.settle(found[0]) if found else None

    def history(self, process_id: str, limit: int = 20) -> list[ValidationRecord]:
        return [self.settle(r) for r in self.deployed.validations(process_id, limit=limit)]

    def settle(self, rec: ValidationRecord) -> ValidationRecord:
        """``rec`` with its verdict, once its job has ended (recorded once: another reader
        may record it first, and then its verdict is the one answered)."""
        if rec.status != VALIDATION_RUNNING:
            return rec
        try:
            job = self.jobs.store.get(rec.job_id)
        except NotFound:
            status, reasons, log = VALIDATION_FAILED, [f"its job {rec.job_id} is gone"], []
        else:
            if job.status not in FINAL_STATUSES:
                return rec
            log = self.jobs.store.logs(job.id, limit=LOG_LINES)
            if job.status != JobStatus.SUCCESSFUL:
                why = job.error or job.message or "no reason given"
                status, reasons = VALIDATION_FAILED, [f"the job {job.status}: {why}"]
            else:
                reasons = self._verdict(rec, job.id, job.outputs or {})
                status = VALIDATION_FAILED if reasons else VALIDATION_PASSED
        self.deployed.finish_validation(rec.id, status, reasons, log)
        return self.deployed.validation(rec.id)

    def _verdict(self, rec: ValidationRecord, job_id: str, outputs: dict[str, Any]) -> list[str]:
        """Each broken expectation, named; none: passed."""
        try:
            text_, _ = self.deployed.package(rec.process_id)
        except NotFound:
            return ["the package was undeployed during its validation"]
        if package_sha(text_) != rec.package_sha:
            return ["the package was replaced during its validation; validate it again"]
        spec = self.spec(rec.process_id)
        checker = _OutputChecker(self.jobs.gateway.storage, self._media_types(job_id))
        reasons: list[str] = []
        for expectation in spec.expect:
            reasons += checker.check(expectation, outputs.get(expectation.output))
        return reasons

    def _media_types(self, job_id: str) -> dict[str, str]:
        """The media type of each file the job published, by its storage href."""
        catalog = self.jobs.catalog
        types: dict[str, str] = {}
        for collection, item_id in result_items(catalog, job_id):
            try:
                item = orjson.loads(catalog.get_item(collection, item_id, SYSTEM))
            except NotFound:
                continue
            for asset in (item.get("assets") or {}).values():
                if isinstance(asset, dict) and isinstance(asset.get("type"), str):
                    types[str(asset.get("href"))] = asset["type"]
        return types

    # ------------------------------------------------------------------ sharing

    def check_shareable(self, process_id: str) -> None:
        """409 unless the package as it is now passed a validation, saying why and what to do
        (with the last verdict's reasons when it failed)."""
        sha = package_sha(self.deployed.package(process_id)[0])
        last = self.last(process_id)
        if self.deployed.has_passed(process_id, sha):
            return
        why = "it has never been validated"
        if last is not None and last.package_sha != sha:
            why = "its package was replaced since its last validation"
        elif last is not None and last.status == VALIDATION_RUNNING:
            why = f"its validation is still running (job {last.job_id})"
        elif last is not None and last.status == VALIDATION_FAILED:
            why = "its last validation failed: " + "; ".join(last.reasons)
        raise Conflict(
            f"service '{process_id}' has not passed validation ({why}): "
            f"POST /processes/{process_id}/validation runs its samples, and the service can "
            "be shared once a validation has passed",
            field="visibility",
            validation=None if last is None else last.status,
        )

    def describe(self, rec: ValidationRecord, base: str, *, full: bool = True) -> dict[str, Any]:
        """A validation as the API answers it (``full``: with the job's log)."""

        def iso(us: int | None) -> str | None:
            return None if us is None else format_rfc3339(from_micros(us))

        try:
            current = package_sha(self.deployed.package(rec.process_id)[0]) == rec.package_sha
        except NotFound:
            current = False
        doc: dict[str, Any] = {
            "id": rec.id,
            "processID": rec.process_id,
            "status": rec.status,
            "jobID": rec.job_id,
            "created": iso(rec.created),
            "finished": iso(rec.finished),
            "reasons": rec.reasons,
            #: it validated the package as it is now (a replacement must pass again)
            "current": current,
            "links": [
                {"rel": "self", "href": f"{base}/processes/{rec.process_id}/validation"},
                {"rel": "monitor", "href": f"{base}/jobs/{rec.job_id}"},
                {"rel": "logs", "href": f"{base}/jobs/{rec.job_id}/logs"},
            ],
        }
        if full:
            doc["log"] = rec.log
        return {k: v for k, v in doc.items() if v is not None}


class _OutputChecker:
    """Checks one output's value against an expectation: files by their storage href (their
    size, media type, text, raster values), numbers and strings as they are."""

    def __init__(self, storage: Storage, media_types: dict[str, str]) -> None:
        self.storage = storage
        self.media_types = media_types

    def check(self, exp: Expectation, value: Any) -> list[str]:
        name = f"outputs.{exp.output}"
        absent = value is None or value == []
        if not exp.present:
            return [] if absent else [f"{name}: expected absent, and the job made it"]
        if absent:
            return [f"{name}: expected, and the job did not make it"]
        values = value if isinstance(value, list) else [value]
        reasons: list[str] = []
        for i, one in enumerate(values):
            where = f"{name}[{i}]" if isinstance(value, list) else name
            reasons += self._one(exp, where, one)
        return reasons

    def _one(self, exp: Expectation, where: str, value: Any) -> list[str]:
        key = self.storage.key_of(value) if isinstance(value, str) else None
        if key is not None:
            return self._file(exp, where, value, key)
        reasons: list[str] = []
        is_item = isinstance(value, str) and _ITEM_REF.match(value) is not None
        kind = "a catalogue item" if is_item else "a value"
        if exp.media_type is not None or exp.min_size is not None or exp.max_size is not None:
            reasons.append(f"{where}: is {kind}, not a file; media_type and sizes apply to files")
        if exp.range is not None:
            number = value if _is_number(value) else None
            if number is None:
                reasons.append(f"{where}: {value!r} is not a number; range applies to numbers")
            elif not exp.range[0] <= float(number) <= exp.range[1]:
                reasons.append(
                    f"{where}: {number} is outside the expected range "
                    f"[{_num(exp.range[0])}, {_num(exp.range[1])}]"
                )
        if exp.contains is not None and (
            not isinstance(value, str) or is_item or exp.contains not in value
        ):
            reasons.append(f"{where}: does not contain {exp.contains!r}")
        return reasons

    def _file(self, exp: Expectation, where: str, href: str, key: str) -> list[str]:
        try:
            size = self.storage.info(key).size
        except (FileNotFoundError, OSError, GepError):
            return [f"{where}: the file is not in storage"]
        reasons: list[str] = []
        if exp.media_type is not None:
            got = self.media_types.get(href)
            if got is None or _bare(got) != _bare(exp.media_type):
                reasons.append(
                    f"{where}: media type is {got or 'unknown'}, expected {exp.media_type}"
                )
        if exp.min_size is not None and size < exp.min_size:
            reasons.append(f"{where}: {size} bytes, fewer than min_size {exp.min_size}")
        if exp.max_size is not None and size > exp.max_size:
            reasons.append(f"{where}: {size} bytes, more than max_size {exp.max_size}")
        if exp.contains is not None:
            head = self.storage.read_range(key, 0, min(size, CONTAINS_BYTES))
            if exp.contains.encode() not in head:
                reasons.append(f"{where}: does not contain {exp.contains!r}")
        if exp.range is not None:
            reasons += self._raster_range(exp.range, where, key)
        return reasons

    def _raster_range(self, rng: tuple[float, float], where: str, key: str) -> list[str]:
        """Every valid pixel (nodata and masked ones left out) within ``rng``."""
        import numpy as np
        import rasterio
        from rasterio.errors import RasterioError

        with tempfile.TemporaryDirectory() as tmp:
            root = self.storage.local_root
            path = (
                Path(self.storage.path(key))
                if root is not None
                else self.storage.get_file(key, Path(tmp) / Path(key).name)
            )
            try:
                with rasterio.open(path) as src:
                    data = src.read(masked=True)
            except (RasterioError, OSError):
                return [f"{where}: not a raster; range applies to numbers and rasters"]
        valid = data.compressed()
        valid = valid[np.isfinite(valid)] if valid.dtype.kind == "f" else valid
        if valid.size == 0:
            return [f"{where}: the raster has no valid pixel"]
        lo, hi = float(valid.min()), float(valid.max())
        if lo < rng[0] or hi > rng[1]:
            return [
                f"{where}: values span [{_num(lo)}, {_num(hi)}], outside the expected range "
                f"[{_num(rng[0])}, {_num(rng[1])}]"
            ]
        return []


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _bare(media_type: str) -> str:
    return media_type.split(";")[0].strip().lower()


__all__ = ["Validations"]
