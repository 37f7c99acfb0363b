"""The service registry: built-ins and plug-ins come through the ``gep.processes`` entry points.

Descriptions follow OGC API - Processes - Part 1 (1.0): each input and output carries the JSON
Schema pydantic derives from its field, rewritten into the 1.0 schema dialect
(:mod:`gep.processes.ogc_schema`), so a client can build a valid request from it alone; file
outputs declare their media type.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel, ValidationError

from gep.core.errors import InvalidInput, NotFound
from gep.processes.base import Process
from gep.processes.ogc_schema import file_output_schema, gep_marks, ogc_schema

GROUP = "gep.processes"


class NoSuchProcess(NotFound):
    """OGC API - Processes exception type ``no-such-process`` (404)."""

    kind = "no-such-process"


class ProcessRegistry:
    def __init__(self, processes: list[Process] | None = None) -> None:
        self._processes: dict[str, Process] = {}
        for p in processes if processes is not None else _discover():
            self._processes[p.id] = p

    def add(self, process: Process) -> None:
        self._processes[process.id] = process

    def remove(self, process_id: str) -> None:
        self._processes.pop(process_id, None)

    def has(self, process_id: str) -> bool:
        return process_id in self._processes

    def ids(self) -> list[str]:
        return sorted(self._processes)

    def get(self, process_id: str) -> Process:
        try:
            return self._processes[process_id]
        except KeyError:
            raise NoSuchProcess(
                f"process '{process_id}' does not exist; available: {', '.join(self.ids())}",
                field="processId",
            ) from None

    def validate_inputs(self, process_id: str, inputs: Any) -> BaseModel:
        """Check a request's inputs before anything is queued; 400 names the path at fault.

        Names the process does not declare are refused here rather than left to the model:
        pydantic ignores unknown fields by default, so a misspelt optional input would
        silently run the job with its default (and charge for it). Missing required inputs
        are all named at once, with what the process accepts, so one retry can fix them."""
        process = self.get(process_id)
        accepted = input_names(process)
        listing = ", ".join(accepted) or "no inputs"
        if not isinstance(inputs, dict):
            raise InvalidInput(
                f"inputs must be an object of input id -> value; process '{process_id}' "
                f"accepts: {listing}",
                field="inputs",
            )
        unknown = [name for name in inputs if name not in accepted]
        if unknown:
            names = ", ".join(f"'{n}'" for n in unknown)
            raise InvalidInput(
                f"inputs.{unknown[0]}: process '{process_id}' has no input "
                f"{names}; it accepts: {listing}",
                field=f"inputs.{unknown[0]}",
                accepted=accepted,
            )
        missing = [name for name in required_inputs(process) if name not in inputs]
        if missing:
            raise InvalidInput(
                f"inputs.{missing[0]}: process '{process_id}' requires "
                + ", ".join(missing)
                + f" (missing); it accepts: {listing}",
                field=f"inputs.{missing[0]}",
                missing=missing,
            )
        try:
            return process.Inputs.model_validate(inputs)
        except ValidationError as exc:
            first = exc.errors()[0]
            path = ".".join(str(p) for p in first["loc"])
            detail = "; ".join(
                f"inputs.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidInput(detail, field=f"inputs.{path}") from None


def input_names(process: Process) -> list[str]:
    """The input ids a process declares, as its description lists them."""
    return [f.alias or name for name, f in process.Inputs.model_fields.items()]


def required_inputs(process: Process) -> list[str]:
    """The input ids a request must give (``minOccurs`` 1 in the description)."""
    return [f.alias or name for name, f in process.Inputs.model_fields.items() if f.is_required()]


def _discover() -> list[Process]:
    found: list[Process] = []
    for ep in entry_points(group=GROUP):
        cls = ep.load()
        found.append(cls())
    return found


def _field_schemas(model: type[BaseModel]) -> tuple[dict[str, Any], set[str], dict[str, Any]]:
    schema = model.model_json_schema()
    return schema.get("properties", {}), set(schema.get("required", [])), schema.get("$defs", {})


def describe(process: Process, base: str, *, full: bool = True) -> dict[str, Any]:
    """The OGC process summary (``full=False``) or description."""
    out: dict[str, Any] = {
        "id": process.id,
        "title": process.title or process.id,
        "description": process.description,
        "version": process.version,
        "keywords": list(process.keywords),
        "jobControlOptions": list(process.job_control),
        "outputTransmission": ["value", "reference"],
        "links": [
            {"rel": "self", "type": "application/json", "href": f"{base}/processes/{process.id}"},
            {
                "rel": "http://www.opengis.net/def/rel/ogc/1.0/execute",
                "type": "application/json",
                "href": f"{base}/processes/{process.id}/execution",
            },
        ],
    }
    if not full:
        return out
    props, required, defs = _field_schemas(process.Inputs)
    out["inputs"] = {
        name: {
            "title": s.get("title", name),
            "description": s.get("description", ""),
            "minOccurs": 1 if name in required else 0,
            "maxOccurs": 1,
            "schema": ogc_schema(s, defs),
            **gep_marks(s),
        }
        for name, s in props.items()
    }
    oprops, _, odefs = _field_schemas(process.Outputs)
    formats = process.output_formats
    out["outputs"] = {}
    for name, s in oprops.items():
        schema = ogc_schema(s, odefs)
        desc: dict[str, Any] = {
            "title": s.get("title", name),
            "description": s.get("description", ""),
            "schema": schema,
        }
        if name in formats:  # a file: a link {"href", "type"} in the results
            desc["schema"] = file_output_schema(schema, formats[name])
            desc["format"] = {"mediaType": formats[name]}
        out["outputs"][name] = desc
    return out
