"""OGC EO Application Packages: CWL CommandLineTools and Workflows as GEP services.

A package is validated with cwltool before it is accepted, its inputs are mapped to an OGC
process description (and a pydantic model, so requests are validated like a built-in's), and it
runs through cwltool in a subprocess that the job can stop. Containers are used when the
runtime setting asks for Docker or Podman (or ``auto`` finds one that answers), ``--no-container``
otherwise.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, create_model

from gep.core.errors import InvalidInput, UnsupportedMediaType
from gep.io.stac_files import iter_stac_records
from gep.processes.base import Process, ProcessContext

MEDIA_TYPES = (
    "application/cwl+yaml",
    "application/cwl+json",
    "application/ogcapppkg+json",
    "application/cwl",
)

_SCALARS: dict[str, tuple[type, dict[str, Any]]] = {
    "string": (str, {}),
    "int": (int, {}),
    "long": (int, {}),
    "float": (float, {}),
    "double": (float, {}),
    "boolean": (bool, {}),
    "File": (str, {"json_schema_extra": {"format": "uri"}}),
    "Directory": (str, {"json_schema_extra": {"format": "uri"}}),
}


def parse_package(raw: bytes, media_type: str) -> tuple[dict[str, Any], str]:
    """The CWL document (as a dict) and its text, from any accepted media type."""
    mt = media_type.split(";")[0].strip().lower()
    if mt not in MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"'{mt}' is not an application package; send one of {', '.join(MEDIA_TYPES)}",
            field="Content-Type",
        )
    doc = _load(raw, as_json=mt == "application/cwl+json", field="body")
    if mt == "application/ogcapppkg+json":
        unit = (doc or {}).get("executionUnit") if isinstance(doc, dict) else None
        value = unit.get("value") if isinstance(unit, dict) else None
        if value is None:
            raise InvalidInput(
                "an ogcapppkg needs executionUnit.value holding the CWL", field="executionUnit"
            )
        doc = (
            _load(value, as_json=False, field="executionUnit.value")
            if isinstance(value, str)
            else value
        )
    if not isinstance(doc, dict) or ("cwlVersion" not in doc):
        raise InvalidInput("the package is not a CWL document (no cwlVersion)", field="body")
    return doc, yaml.safe_dump(doc, sort_keys=False)


def _load(raw: bytes | str, *, as_json: bool, field: str) -> Any:
    """YAML (or JSON) text; a syntax error, or bytes that are not UTF-8, are the caller's."""
    try:
        return json.loads(raw) if as_json else yaml.safe_load(raw)
    except (yaml.YAMLError, ValueError) as exc:  # JSONDecodeError, UnicodeDecodeError
        kind = "JSON" if as_json else "YAML"
        raise InvalidInput(f"the package is not valid {kind}: {exc}", field=field) from None


def main_process(doc: dict[str, Any]) -> dict[str, Any]:
    """The entry point: the document itself, or in a ``$graph`` the Workflow (EO AP rule)."""
    if "$graph" not in doc:
        return doc
    graph = doc["$graph"]
    workflows = [p for p in graph if isinstance(p, dict) and p.get("class") == "Workflow"]
    if len(workflows) == 1:
        return workflows[0]
    main = [p for p in graph if isinstance(p, dict) and str(p.get("id", "")).lstrip("#") == "main"]
    if main:
        return main[0]
    raise InvalidInput(
        "a $graph package needs exactly one Workflow (the service entry point)", field="$graph"
    )


def _inputs_of(proc: dict[str, Any]) -> list[tuple[str, Any]]:
    raw = proc.get("inputs") or {}
    if isinstance(raw, dict):
        return [(k, v) for k, v in raw.items()]
    return [(str(i.get("id", "")).split("/")[-1].lstrip("#"), i) for i in raw]


def _field(name: str, spec: Any) -> tuple[Any, Any]:
    """A pydantic field for a CWL input (scalars, optionals, arrays, enums)."""
    cwl_type = spec.get("type") if isinstance(spec, dict) else spec
    doc = (spec.get("doc") or spec.get("label") or "") if isinstance(spec, dict) else ""
    default = spec.get("default") if isinstance(spec, dict) else None
    optional = False
    if isinstance(cwl_type, list) and "null" in cwl_type:
        rest = [t for t in cwl_type if t != "null"]
        optional, cwl_type = True, rest[0] if len(rest) == 1 else rest
    if isinstance(cwl_type, str) and cwl_type.endswith("?"):
        optional, cwl_type = True, cwl_type[:-1]
    if isinstance(cwl_type, str) and cwl_type.endswith("[]"):
        base = _SCALARS.get(cwl_type[:-2])
        if base is None:
            raise InvalidInput(f"input '{name}': type {cwl_type} cannot be mapped", field=name)
        py: Any = list[base[0]]  # type: ignore[valid-type]
        extra: dict[str, Any] = {}
    elif isinstance(cwl_type, dict) and cwl_type.get("type") == "array":
        base = _SCALARS.get(str(cwl_type.get("items")))
        if base is None:
            raise InvalidInput(
                f"input '{name}': array of {cwl_type.get('items')} cannot be mapped", field=name
            )
        py, extra = list[base[0]], {}  # type: ignore[valid-type]
    elif isinstance(cwl_type, dict) and cwl_type.get("type") == "enum":
        from typing import Literal

        symbols = tuple(str(s).split("/")[-1] for s in cwl_type.get("symbols", []))
        py, extra = Literal[symbols], {}  # type: ignore[valid-type]
    elif isinstance(cwl_type, str) and cwl_type in _SCALARS:
        py, extra = _SCALARS[cwl_type]
    else:
        raise InvalidInput(
            f"input '{name}': CWL type {cwl_type!r} cannot be mapped to a "
            "process input (use string, int, float, boolean, File, Directory, "
            "arrays or enums)",
            field=name,
        )
    if optional or default is not None:
        return (py | None, Field(default, description=doc, **extra))
    return (py, Field(..., description=doc, **extra))


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def cwltool_command() -> str:
    """cwltool's console script beside this interpreter (``python -m cwltool`` does not run
    it), else the one on PATH."""
    local = Path(sys.executable).parent / "cwltool"
    return str(local) if local.exists() else (shutil.which("cwltool") or "cwltool")


def validate_with_cwltool(text: str) -> None:
    """cwltool's own validation: a syntax error or a missing reference comes back readable."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "package.cwl"
        path.write_text(text)
        proc = subprocess.run(
            [cwltool_command(), "--validate", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            plain = _ANSI.sub("", proc.stderr + proc.stdout)
            lines = [
                ln.strip()
                for ln in plain.splitlines()
                if ln.strip() and not ln.startswith(("INFO", "/"))
            ]
            reason = "\n".join(lines[-12:])
            reason = reason.replace(path.as_uri(), "package.cwl").replace(str(path), "package.cwl")
            raise InvalidInput(f"the CWL package is invalid:\n{reason}", field="body")


class CwlProcess(Process):
    """A deployed application package, run by cwltool."""

    runtime = "none"

    def __init__(
        self, process_id: str, text: str, doc: dict[str, Any], version: str = "1.0.0"
    ) -> None:
        proc = main_process(doc)
        self.id = process_id  # type: ignore[misc]
        self.version = str(doc.get("s:version") or version)  # type: ignore[misc]
        self.title = str(proc.get("label") or process_id)  # type: ignore[misc]
        self.description = str(proc.get("doc") or "")  # type: ignore[misc]
        self.keywords = ["application-package", "cwl"]  # type: ignore[misc]
        self.text = text
        fields = {name: _field(name, spec) for name, spec in _inputs_of(proc)}
        self.Inputs = create_model(f"{process_id}_inputs", **fields)  # type: ignore[call-overload,misc]
        outs = proc.get("outputs") or {}
        names = (
            list(outs)
            if isinstance(outs, dict)
            else [str(o.get("id", "")).split("/")[-1].lstrip("#") for o in outs]
        )
        self.Outputs = create_model(  # type: ignore[misc,call-overload]
            f"{process_id}_outputs",
            **{n: (Any, Field(None)) for n in names},
        )
        self._entry = ("#" + str(proc.get("id")).lstrip("#")) if "$graph" in doc else ""

    def execute(self, ctx: ProcessContext, inputs: Any) -> BaseModel:
        package = ctx.scratch / "package.cwl"
        package.write_text(self.text)
        order: dict[str, Any] = {}
        for name, value in inputs.model_dump().items():
            if value is None:
                continue
            field = type(inputs).model_fields[name]
            is_path = (
                (field.json_schema_extra or {}).get("format") == "uri"
                if isinstance(field.json_schema_extra, dict)
                else False
            )
            order[name] = {"class": "File", "location": value} if is_path else value
        job_file = ctx.scratch / "job.json"
        job_file.write_text(json.dumps(order))
        cmd = [
            cwltool_command(),
            "--outdir",
            str(ctx.output_dir),
            "--tmpdir-prefix",
            str(ctx.scratch) + "/",
            "--quiet",
        ]
        if self.runtime == "none":
            cmd.append("--no-container")
        elif self.runtime == "podman":
            cmd.append("--podman")
        cmd += [str(package) + self._entry, str(job_file)]
        ctx.logger.info("cwltool %s", " ".join(cmd[1:]))
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ctx.scratch
        )
        try:
            pct = 5
            while proc.poll() is None:
                ctx.progress(pct, "running the application package")  # raises when dismissed
                pct = min(95, pct + 1)
                time.sleep(0.5)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        out, err = proc.communicate()
        for line in err.splitlines()[-50:]:
            ctx.logger.info("%s", line)
        if proc.returncode != 0:
            raise RuntimeError(
                f"cwltool exited with {proc.returncode}: " + " | ".join(err.splitlines()[-5:])
            )
        produced = json.loads(out or "{}")
        result: dict[str, Any] = {}
        for name, value in produced.items():
            result[name] = self._output(ctx, name, value)
        return self.Outputs.model_validate(result)

    def _output(self, ctx: ProcessContext, name: str, value: Any) -> Any:
        if isinstance(value, dict) and value.get("class") == "File":
            path = Path(value["path"])
            return ctx.add_asset(name, path, _media_type(path), ["data"], name)
        if isinstance(value, dict) and value.get("class") == "Directory":
            folder = Path(value["path"])
            if (folder / "catalog.json").exists() or (folder / "collection.json").exists():
                # the EO Application Package convention: a STAC catalogue of the results
                return [ctx.publish_item(item) for item in stac_items_with_absolute_assets(folder)]
            return folder.resolve().as_uri()
        if isinstance(value, list):
            return [self._output(ctx, f"{name}-{i}", v) for i, v in enumerate(value)]
        return value


def stac_items_with_absolute_assets(folder: Path) -> list[dict[str, Any]]:
    """The items of a static STAC catalogue, their relative asset hrefs made absolute (the
    files stay where the job wrote them)."""
    items = []
    for rec in iter_stac_records(folder):
        if rec.kind != "item":
            continue
        base = Path(str(rec.source).split("#")[0]).parent
        item = dict(rec.data)
        assets = {}
        for key, asset in (item.get("assets") or {}).items():
            href = str(asset.get("href", ""))
            if href and "://" not in href and not href.startswith("/"):
                href = (base / href).resolve().as_uri()
            assets[key] = {**asset, "href": href}
        item["assets"] = assets
        items.append(item)
    return items


def _media_type(path: Path) -> str:
    return {
        ".tif": "image/tiff; application=geotiff",
        ".png": "image/png",
        ".json": "application/json",
        ".geojson": "application/geo+json",
        ".csv": "text/csv",
        ".txt": "text/plain",
    }.get(path.suffix.lower(), "application/octet-stream")


def container_runtime(setting: str) -> str:
    """``GEP_CWL_RUNTIME``: auto → docker or podman when one answers, none otherwise."""
    if setting in ("docker", "podman", "none"):
        return setting
    for engine in ("docker", "podman"):
        if shutil.which(engine):
            try:
                ok = subprocess.run([engine, "info"], capture_output=True, timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if ok.returncode == 0:
                return engine
    return "none"
