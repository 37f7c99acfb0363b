"""OGC EO Application Packages: CWL CommandLineTools and Workflows as GEP services.

A package is validated with cwltool before it is accepted, its inputs are mapped to an OGC
process description (and a pydantic model, so requests are validated like a built-in's), and it
runs through cwltool in a subprocess that the job can stop. Its tools always run confined
(:mod:`gep.processes.sandbox`): in containers when Docker or Podman answer, in a bubblewrap
sandbox otherwise; on the host only when an administrator sets ``GEP_CWL_RUNTIME=none``.

``File`` and ``Directory`` inputs are catalogue items (``"C/I"``, ``{"href": ".../items/I"}``,
with ``"asset"`` naming the asset), never paths: the job stages them through the gateway, so a
package reads only what its submitter may read.
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
from pydantic import BaseModel, ConfigDict, Field, create_model

from gep.core.errors import InvalidInput, ServiceUnavailable, UnsupportedMediaType
from gep.io.stac_files import iter_stac_records
from gep.processes.base import ITEM_REF, Process, ProcessContext
from gep.processes.sandbox import Runtime, bwrap_works, declares_network, sandboxed
from gep.processes.validation import ValidationSpec, find_hint, parse_spec

MEDIA_TYPES = (
    "application/cwl+yaml",
    "application/cwl+json",
    "application/ogcapppkg+json",
    "application/cwl",
)


class AssetRef(BaseModel):
    """A ``File``/``Directory`` input: a catalogue item and which of its assets."""

    model_config = ConfigDict(extra="forbid")
    href: str = Field(..., description='The item: "C/I" or ".../stac/collections/C/items/I"')
    asset: str | None = Field(
        None, description="The asset key; default: the item's only asset, or its one 'data' asset"
    )


#: a File/Directory input names a catalogue item (JSON Schema format ITEM_REF): the job service
#: resolves the item, and the gateway its asset hrefs, before a job exists
ItemInput = str | AssetRef

_SCALARS: dict[str, tuple[Any, dict[str, Any]]] = {
    "string": (str, {}),
    "int": (int, {}),
    "long": (int, {}),
    "float": (float, {}),
    "double": (float, {}),
    "boolean": (bool, {}),
    "File": (ItemInput, {"json_schema_extra": {"format": ITEM_REF, "x-gep-cwl-class": "File"}}),
    "Directory": (
        ItemInput,
        {"json_schema_extra": {"format": ITEM_REF, "x-gep-cwl-class": "Directory"}},
    ),
}


def _list_of(base: tuple[Any, dict[str, Any]]) -> Any:
    """``list[T]``; for items, each element marked as an item reference."""
    py, extra = base
    if extra:
        from typing import Annotated

        return list[Annotated[py, Field(**extra)]]  # type: ignore[valid-type]
    return list[py]  # type: ignore[valid-type]


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
        py: Any = _list_of(base)
        extra: dict[str, Any] = {}
    elif isinstance(cwl_type, dict) and cwl_type.get("type") == "array":
        base = _SCALARS.get(str(cwl_type.get("items")))
        if base is None:
            raise InvalidInput(
                f"input '{name}': array of {cwl_type.get('items')} cannot be mapped", field=name
            )
        py, extra = _list_of(base), {}
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


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def cwltool_command() -> str:
    """cwltool's console script beside this interpreter (``python -m cwltool`` does not run
    it), else the one on PATH."""
    local = Path(sys.executable).parent / "cwltool"
    return str(local) if local.exists() else (shutil.which("cwltool") or "cwltool")


def validate_with_cwltool(text: str) -> None:
    """cwltool's own validation: a syntax error or a missing reference comes back readable.

    Validation follows ``$import``, ``$include`` and ``run:`` references, so an untrusted
    package is validated inside the sandbox where bubblewrap works (no files, no network)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "package.cwl"
        path.write_text(text)
        cmd = [cwltool_command(), "--validate", str(path)]
        if bwrap_works():
            cmd = sandboxed(cmd, read_only=[Path(tmp)], cwd=Path(tmp))
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            lines = [
                ln.strip()
                for ln in plain_text(proc.stderr + proc.stdout).splitlines()
                if ln.strip() and not ln.startswith(("INFO", "/"))
            ]
            reason = "\n".join(lines[-12:])
            reason = reason.replace(path.as_uri(), "package.cwl").replace(str(path), "package.cwl")
            raise InvalidInput(f"the CWL package is invalid:\n{reason}", field="body")


def plain_text(text: str) -> str:
    """Terminal colour codes out: reasons are read in JSON and on web pages."""
    return _ANSI.sub("", text)


class CwlProcess(Process):
    """A deployed application package, run by cwltool."""

    runtime: str = Runtime.UNAVAILABLE

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
        #: the package asks for the network (NetworkAccess): the sandbox shares the host's
        self.network = declares_network(doc)
        fields = {name: _field(name, spec) for name, spec in _inputs_of(proc)}
        self.Inputs = create_model(  # type: ignore[call-overload,misc]
            f"{process_id}_inputs", __config__=ConfigDict(extra="forbid"), **fields
        )
        #: File/Directory inputs by name: their CWL class
        self.item_inputs = {
            name: _cwl_class(spec) for name, spec in _inputs_of(proc) if _cwl_class(spec)
        }
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
        #: the samples and expectations the package declares (``gep:Validation``), checked
        #: against its inputs and outputs: None when it declares none
        hint = find_hint(doc, proc)
        self.validation: ValidationSpec | None = (
            None if hint is None else parse_spec(hint, self.Inputs, names)
        )

    def runtime_description(self) -> dict[str, Any]:
        """What ``/processes/{id}`` says of how the package's tools run."""
        runtime = Runtime(self.runtime)
        notes = {
            Runtime.DOCKER: "each tool runs in a Docker container",
            Runtime.PODMAN: "each tool runs in a Podman container",
            Runtime.BWRAP: "tools run in a bubblewrap sandbox: read-only system, the staged "
            "inputs and the job's folders only, "
            + ("with network access (the package declares NetworkAccess)"
               if self.network else "no network"),
            Runtime.NONE: "tools run on the server's host, UNCONFINED "
            "(the administrator set GEP_CWL_RUNTIME=none)",
            Runtime.UNAVAILABLE: "this server has no way to confine tools (no Docker, Podman "
            "or bubblewrap): the package cannot run until its administrator installs one",
        }  # fmt: skip
        return {"runtime": runtime.value, "confined": runtime.confined, "note": notes[runtime]}

    def preflight(self, inputs: Any, items: dict[str, dict[str, Any]]) -> None:
        if self.runtime == Runtime.UNAVAILABLE:
            raise ServiceUnavailable(self.runtime_description()["note"], field="processId")
        for name in self.item_inputs:
            value = getattr(inputs, name, None)
            refs = value if isinstance(value, list) else [value]
            for k, ref in enumerate(refs):
                key = name if not isinstance(value, list) else f"{name}[{k}]"
                item = items.get(key)
                if ref is not None and item is not None:
                    choose_asset(item, _asset_of(ref), f"inputs.{key}")

    def execute(self, ctx: ProcessContext, inputs: Any) -> BaseModel:
        if self.runtime == Runtime.UNAVAILABLE:
            raise RuntimeError(self.runtime_description()["note"])
        package = ctx.scratch / "package.cwl"
        package.write_text(self.text)
        order: dict[str, Any] = {}
        staged: list[Path] = []
        for name, value in inputs.model_dump().items():
            if value is None:
                continue
            if name in self.item_inputs:
                cls = self.item_inputs[name]
                if isinstance(value, list):
                    order[name] = [
                        self._stage(ctx, f"{name}[{k}]", v, cls, staged)
                        for k, v in enumerate(value)
                    ]
                else:
                    order[name] = self._stage(ctx, name, value, cls, staged)
            else:
                order[name] = value
        job_file = ctx.scratch / "job.json"
        job_file.write_text(json.dumps(order))
        for sub in ("tmp", "out"):
            (ctx.scratch / sub).mkdir(exist_ok=True)
        cmd = [
            cwltool_command(),
            "--outdir",
            str(ctx.output_dir),
            "--tmpdir-prefix",
            f"{ctx.scratch}/tmp/",
            "--tmp-outdir-prefix",
            f"{ctx.scratch}/out/",
            "--quiet",
        ]
        if self.runtime in (Runtime.NONE, Runtime.BWRAP):
            cmd.append("--no-container")
        elif self.runtime == Runtime.PODMAN:
            cmd.append("--podman")
        cmd += [str(package) + self._entry, str(job_file)]
        if self.runtime == Runtime.BWRAP:
            cmd = sandboxed(
                cmd,
                read_only=staged,
                read_write=[ctx.scratch, ctx.output_dir],
                network=self.network,
                cwd=ctx.scratch,
            )
        ctx.logger.info("running the package (%s)", self.runtime_description()["note"])
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
        err = plain_text(err)
        for line in err.splitlines()[-50:]:
            ctx.logger.info("%s", line)
        if proc.returncode != 0:
            raise RuntimeError(
                f"the application package failed (cwltool exit {proc.returncode}): "
                + failure_reason(err)
            )
        produced = json.loads(out or "{}")
        result: dict[str, Any] = {}
        for name, value in produced.items():
            result[name] = self._output(ctx, name, value)
        return self.Outputs.model_validate(result)

    @staticmethod
    def _stage(
        ctx: ProcessContext, name: str, ref: Any, cls: str, staged: list[Path]
    ) -> dict[str, str]:
        """A catalogue item's asset staged through the gateway, as a CWL File/Directory."""
        item_ref = ref.get("href") if isinstance(ref, dict) else ref
        item, _ = ctx.stage(item_ref)
        key = choose_asset(item, _asset_of(ref), f"inputs.{name}")
        _, path = ctx.stage(item_ref, key)
        assert path is not None
        if cls == "Directory" and not path.is_dir():
            raise InvalidInput(
                f"inputs.{name}: asset '{key}' is a file, and the package wants a Directory",
                field=f"inputs.{name}",
            )
        if cls == "File" and not path.is_file():
            raise InvalidInput(
                f"inputs.{name}: asset '{key}' is a folder, and the package wants a File",
                field=f"inputs.{name}",
            )
        staged.append(path)
        return {"class": cls, "path": str(path)}

    def _output(self, ctx: ProcessContext, name: str, value: Any) -> Any:
        if isinstance(value, dict) and value.get("class") == "File":
            path = Path(value["path"])
            return ctx.add_asset(name, path, _media_type(path), ["data"], name)
        if isinstance(value, dict) and value.get("class") == "Directory":
            folder = Path(value["path"])
            if (folder / "catalog.json").exists() or (folder / "collection.json").exists():
                # the EO Application Package convention: a STAC catalogue of the results
                return [ctx.publish_item(item) for item in stac_items_with_absolute_assets(folder)]
            return ctx.stored_href(folder)
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
    """``GEP_CWL_RUNTIME``: ``auto`` → docker or podman when one answers, else bubblewrap when
    it can make a sandbox here, else ``unavailable`` (packages refused): running tools on the
    host is never chosen for the administrator."""
    if setting in {r.value for r in Runtime} - {Runtime.UNAVAILABLE.value}:
        return setting
    if setting != "auto":
        raise ValueError(f"GEP_CWL_RUNTIME={setting!r}: use auto, docker, podman, bwrap or none")
    for engine in ("docker", "podman"):
        if shutil.which(engine):
            try:
                ok = subprocess.run([engine, "info"], capture_output=True, timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if ok.returncode == 0:
                return engine
    return Runtime.BWRAP.value if bwrap_works() else Runtime.UNAVAILABLE.value


def _cwl_class(spec: Any) -> str:
    """ "File" or "Directory" when an input takes one (or a list of them); "" otherwise."""
    cwl_type = spec.get("type") if isinstance(spec, dict) else spec
    if isinstance(cwl_type, list):
        cwl_type = next((t for t in cwl_type if t != "null"), "")
    if isinstance(cwl_type, dict) and cwl_type.get("type") == "array":
        cwl_type = cwl_type.get("items")
    text = str(cwl_type or "").removesuffix("?").removesuffix("[]")
    return text if text in ("File", "Directory") else ""


def _asset_of(ref: Any) -> str | None:
    if isinstance(ref, AssetRef):
        return ref.asset
    return ref.get("asset") if isinstance(ref, dict) else None


def choose_asset(item: dict[str, Any], asset: str | None, field: str) -> str:
    """The asset a File/Directory input names: the one given, else the item's only asset, else
    its one asset with the ``data`` role."""
    assets = item.get("assets") or {}
    if asset is not None:
        if asset not in assets:
            raise InvalidInput(
                f"{field}: item '{item.get('id')}' has no asset '{asset}'; it has: "
                + ", ".join(sorted(assets)),
                field=field,
            )
        return asset
    if len(assets) == 1:
        return str(next(iter(assets)))
    data = [k for k, a in assets.items() if "data" in (a.get("roles") or [])]
    if len(data) == 1:
        return str(data[0])
    raise InvalidInput(
        f"{field}: item '{item.get('id')}' has several assets; name one with "
        '{"href": ..., "asset": KEY}: ' + ", ".join(sorted(assets)),
        field=field,
    )


def failure_reason(stderr: str) -> str:
    """The lines of cwltool's output that say why (the tool's own error, cwltool's verdict),
    without its progress chatter."""
    lines = [
        ln.strip()
        for ln in stderr.splitlines()
        if ln.strip() and not ln.lstrip().startswith(("INFO", "[job", "[step", "[workflow"))
    ]
    return " | ".join(lines[-6:]) or "no reason given"
