"""Thematic apps: CRUD with ownership and sharing, the resolved view the map opens, and the
portable export/import.

An app only *references* things (collections, services, subscriptions, areas); what a viewer
gets back is resolved against what that viewer may see now, so sharing an app never shares what
it points at. The export carries what another GEP instance needs to rebuild the references it
can (STAC collection records, the OGC application packages of deployed services, the areas'
geometries); the import checks everything first and writes the app, its services and its areas
in one transaction, or nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from shapely.geometry import mapping, shape
from sqlalchemy import text

from gep.apps.spec import AppInvalid, Problems, validate
from gep.apps.store import App, AppStore
from gep.catalog.areas import AreaStore, NamedArea
from gep.catalog.store import CatalogStore
from gep.core.access import PRIVATE, Viewer
from gep.core.errors import Forbidden, GepError, InvalidInput, NotFound
from gep.core.geometry import parse_area
from gep.core.timeutil import format_rfc3339, from_micros
from gep.jobs.deployed import DeployedStore, package_sha
from gep.processes.cwl import CwlProcess, main_process, parse_package, validate_with_cwltool
from gep.processes.registry import ProcessRegistry
from gep.production.store import SubscriptionStore

#: the portable document's type and schema version (docs/apps.md)
PORTABLE_TYPE = "gep:thematic-app"
SCHEMA_VERSION = 1
#: the virtual app over a user's own uploads (gep.gateway.uploads: ``uploads-<user id>``)
UPLOADS_APP = "my-uploads"
UPLOADS_PREFIX = "uploads-"
TMS = "WebMercatorQuad"


def _ts(us: int) -> str:
    return format_rfc3339(from_micros(us))


class AppService:
    def __init__(
        self,
        store: AppStore,
        catalog: CatalogStore,
        registry: ProcessRegistry,
        deployed: DeployedStore,
        subscriptions: SubscriptionStore,
        cwl_runtime: str = "none",
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.registry = registry
        self.deployed = deployed
        self.subscriptions = subscriptions
        self.areas = AreaStore(catalog.engine)
        self.cwl_runtime = cwl_runtime

    # ------------------------------------------------------------------ records

    def own(self, viewer: Viewer, app_id: str) -> App:
        """An app ``viewer`` may change: 404 when hidden, 403 when someone else's."""
        if app_id == UPLOADS_APP:
            raise Forbidden(f"'{UPLOADS_APP}' is built from your uploads; it cannot be changed")
        app = self.store.get(app_id, viewer)
        if not viewer.may_change(app.owner):
            raise Forbidden(f"app '{app_id}' belongs to someone else", field="appId")
        return app

    def get(self, viewer: Viewer, app_id: str) -> App:
        if app_id == UPLOADS_APP and not viewer.anonymous:
            return self.uploads_app(viewer)
        return self.store.get(app_id, viewer)

    def all(self, viewer: Viewer) -> list[App]:
        apps = self.store.all(viewer)
        if not viewer.anonymous:
            apps.insert(0, self.uploads_app(viewer))
        return apps

    def uploads_app(self, viewer: Viewer) -> App:
        """The virtual app over the caller's own uploads: never stored, always current."""
        coll = f"{UPLOADS_PREFIX}{viewer.user_id}"
        have = self.catalog.collection_exists(coll)
        doc: dict[str, Any] = {
            "title": "My data uploads",
            "description": "Everything you uploaded (POST /uploads), as map layers.",
            "thumbnail": None,
            "bbox": None,
            "collections": [coll] if have else [],
            "searches": [],
            "services": [],
            "subscriptions": [],
            "areas": [],
            "layers": [
                {
                    "collection": coll,
                    "title": "My uploads",
                    "item": None,
                    "asset": None,
                    "filter": None,
                    "render": {},
                    "visible": True,
                    "opacity": 1.0,
                }
            ]
            if have
            else [],
            "virtual": True,
        }
        return App(UPLOADS_APP, doc["title"], viewer.user_id, PRIVATE, doc, 0, 0)

    def check_references(self, viewer: Viewer, doc: dict[str, Any]) -> Problems:
        """What the document names that does not exist or ``viewer`` may not see."""
        problems = Problems()
        colls = list(doc.get("collections", []))
        colls += [x["collection"] for x in doc.get("layers", [])]
        for s in doc.get("searches", []):
            colls += s["collections"]
        for c in dict.fromkeys(colls):
            if not self._collection_visible(viewer, c):
                problems.add("collections", f"collection '{c}' does not exist here")
        hidden = self.deployed.hidden_from(viewer)
        for s in doc.get("services", []):
            if not self.registry.has(s) or s in hidden:
                problems.add("services", f"service '{s}' does not exist here")
        for s in doc.get("subscriptions", []):
            try:
                self.subscriptions.get(s, viewer)
            except NotFound:
                problems.add("subscriptions", f"subscription '{s}' does not exist here")
        for a in doc.get("areas", []):
            try:
                self.areas.get(a, viewer)
            except NotFound:
                problems.add("areas", f"area '{a}' does not exist here")
        return problems

    def _collection_visible(self, viewer: Viewer, coll: str) -> bool:
        try:
            self.catalog.get_collection(coll, viewer)
        except GepError:
            return False
        return True

    def create(self, viewer: Viewer, body: Any) -> App:
        doc = validate(body)
        self.check_references(viewer, doc).raise_if_any("the app names what is not here")
        return self.store.create(doc, viewer.user_id)

    def edit(self, viewer: Viewer, app_id: str, patch: Any) -> App:
        """A merge patch of the document's members (``id`` cannot change)."""
        app = self.own(viewer, app_id)
        changes = validate(patch, partial=True)
        if "id" in changes and changes["id"] != app_id:
            raise InvalidInput("an app's id cannot change", field="id")
        doc = {**app.document, **changes}
        doc = validate(doc)
        self.check_references(viewer, doc).raise_if_any("the app names what is not here")
        return self.store.replace(app_id, doc)

    def share(self, app: App, visibility: str) -> App:
        return self.store.set_visibility(app.id, visibility)

    def delete(self, viewer: Viewer, app_id: str) -> None:
        self.own(viewer, app_id)
        self.store.delete(app_id)

    # ------------------------------------------------------------------ the view

    def describe(self, app: App, viewer: Viewer, base: str) -> dict[str, Any]:
        """The app as the map opens it: each reference resolved for ``viewer`` (what they may
        not see is listed under ``missing``, not shown), layers with tile URLs, services in the
        app's order, areas as GeoJSON and the view's bbox."""
        doc = app.document
        missing = self.check_references(viewer, doc).items
        gone = {p["detail"].split("'")[1] for p in missing}
        services = []
        for sid in doc.get("services", []):
            if sid in gone:
                continue
            proc = self.registry.get(sid)
            services.append(
                {
                    "id": sid,
                    "title": getattr(proc, "title", None) or sid,
                    "deployed": self.deployed.access(sid) is not None,
                    "href": f"{base}/processes/{sid}",
                }
            )
        subs = []
        layers = [dict(x) for x in doc.get("layers", []) if x["collection"] not in gone]
        for sub_id in doc.get("subscriptions", []):
            if sub_id in gone:
                continue
            sub = self.subscriptions.get(sub_id, viewer)
            subs.append(
                {
                    "id": sub.id,
                    "title": sub.title,
                    "layer": sub.layer,
                    "href": f"{base}/subscriptions/{sub.id}",
                }
            )
            if sub.layer not in gone and all(x["collection"] != sub.layer for x in layers):
                layers.append(
                    {
                        "collection": sub.layer,
                        "title": sub.title,
                        "item": None,
                        "asset": None,
                        "filter": None,
                        "render": {},
                        "visible": True,
                        "opacity": 1.0,
                        "subscription": sub.id,
                    }
                )
        features = []
        for area_id in doc.get("areas", []):
            if area_id not in gone:
                features.append(self.areas.get(area_id, viewer).feature())
        collections = []
        for c in doc.get("collections", []):
            if c in gone:
                continue
            coll = self.catalog.get_collection(c)
            collections.append(
                {"id": c, "title": coll.get("title") or c, "href": f"{base}/stac/collections/{c}"}
            )
        return {
            "id": app.id,
            "title": doc["title"],
            "description": doc.get("description"),
            "thumbnail": doc.get("thumbnail"),
            "owner": app.owner,
            "visibility": app.visibility,
            "virtual": bool(doc.get("virtual")),
            "created": _ts(app.created) if app.created else None,
            "updated": _ts(app.updated) if app.updated else None,
            "bbox": doc.get("bbox") or _bbox_of(features, collections, self.catalog),
            "collections": collections,
            "searches": doc.get("searches", []),
            "services": services,
            "subscriptions": subs,
            "areas": {"type": "FeatureCollection", "features": features},
            "layers": [_layer_view(x, base) for x in layers],
            "missing": missing,
            "document": {"id": app.id, **{k: v for k, v in doc.items() if k != "virtual"}},
            "links": [
                {"rel": "self", "type": "application/json", "href": f"{base}/apps/{app.id}"},
                {
                    "rel": "export",
                    "type": "application/json",
                    "href": f"{base}/apps/{app.id}/export",
                },
            ],
        }

    # ------------------------------------------------------------------ portable

    def export(self, viewer: Viewer, app_id: str, base: str) -> dict[str, Any]:
        """The portable document (docs/apps.md): the app, the STAC records of the collections it
        names, the application packages of its deployed services, its areas as GeoJSON and its
        systematic layers' definitions."""
        app = self.get(viewer, app_id)
        doc = {k: v for k, v in app.document.items() if k != "virtual"}
        problems = self.check_references(viewer, doc)
        problems.raise_if_any(f"app '{app_id}' names what you may not see; it cannot be exported")
        colls = list(doc.get("collections", []))
        colls += [x["collection"] for x in doc.get("layers", [])]
        for s in doc.get("searches", []):
            colls += s["collections"]
        subs = []
        for sub_id in doc.get("subscriptions", []):
            sub = self.subscriptions.get(sub_id, viewer)
            colls.append(sub.layer)
            subs.append(
                {
                    "id": sub.id,
                    "title": sub.title,
                    "process": sub.process_id,
                    "inputs": sub.inputs,
                    "trigger": sub.trigger,
                    "layer": sub.layer,
                }
            )
        stac = []
        for c in dict.fromkeys(colls):
            record = self.catalog.get_collection(c)
            record = {k: v for k, v in record.items() if k != "links"}
            record["links"] = [
                {"rel": "via", "href": f"{base}/stac/collections/{c}", "type": "application/json"}
            ]
            stac.append(record)
        packages = []
        for sid in doc.get("services", []):
            if self.deployed.access(sid) is None:
                continue
            text_, media = self.deployed.package(sid)
            packages.append(
                {"id": sid, "mediaType": media, "package": text_, "sha256": package_sha(text_)}
            )
        areas = []
        for a in doc.get("areas", []):
            area = self.areas.get(a, viewer)
            areas.append(
                {
                    "type": "Feature",
                    "id": area.id,
                    "geometry": area.geometry,
                    "properties": {"name": area.name, "description": area.description},
                }
            )
        return {
            "type": PORTABLE_TYPE,
            "schemaVersion": SCHEMA_VERSION,
            "exported": format_rfc3339(from_micros(time.time_ns() // 1000)),
            "source": f"{base}/apps/{app.id}",
            "app": {"id": app.id, **doc},
            "collections": stac,
            "services": [
                {"id": s, "kind": "deployed" if any(p["id"] == s for p in packages) else "built-in"}
                for s in doc.get("services", [])
            ],
            "applicationPackages": packages,
            "areas": {"type": "FeatureCollection", "features": areas},
            "subscriptions": subs,
        }

    def import_(
        self,
        viewer: Viewer,
        portable: Any,
        *,
        app_id: str | None = None,
        on_deployed: Callable[[CwlProcess], None] | None = None,
    ) -> App:
        """Check every reference of a portable document against this instance, then write the
        app, the deployed services it carries and its areas in one transaction; refuses
        (listing every problem) and writes nothing otherwise."""
        problems = Problems()
        if not isinstance(portable, dict):
            problems.add("body", "must be a portable app document (docs/apps.md)")
            problems.raise_if_any("the import")
        if portable.get("type") != PORTABLE_TYPE:
            problems.add("type", f"must be '{PORTABLE_TYPE}'")
        if portable.get("schemaVersion") != SCHEMA_VERSION:
            problems.add("schemaVersion", f"must be {SCHEMA_VERSION} (this GEP reads only it)")
        try:
            doc = validate(portable.get("app"))
        except AppInvalid as e:
            for p in e.problems:
                problems.add(f"app.{p['field']}", p["detail"])
            doc = {}
        if app_id is not None:
            doc["id"] = app_id
        if doc.get("id") and self.store.exists(doc["id"]):
            doc["id"] = None  # a second import of the same app gets a fresh id
        # deployed services carried as application packages
        packages: dict[str, CwlProcess] = {}
        raw_packages = portable.get("applicationPackages", [])
        if not isinstance(raw_packages, list):
            problems.add("applicationPackages", "must be a list")
            raw_packages = []
        for i, p in enumerate(raw_packages):
            field = f"applicationPackages[{i}]"
            if not isinstance(p, dict) or not isinstance(p.get("package"), str):
                problems.add(field, "must be {id, mediaType, package}")
                continue
            try:
                pdoc, text_ = parse_package(
                    p["package"].encode(), str(p.get("mediaType") or "application/cwl+yaml")
                )
                main = main_process(pdoc)
                pid = str(main.get("id") or pdoc.get("id") or "").split("/")[-1].lstrip("#")
                if pid != p.get("id"):
                    raise InvalidInput(f"the package's id is '{pid}', not '{p.get('id')}'")
                proc = CwlProcess(pid, text_, pdoc)
                validate_with_cwltool(text_)
            except GepError as e:
                problems.add(field, f"not a valid application package: {e}")
                continue
            proc.runtime = self.cwl_runtime
            acc = self.deployed.access(pid)
            if acc is not None:
                same = package_sha(self.deployed.package(pid)[0]) == package_sha(text_)
                if not same or not viewer.may_see(acc.owner, acc.visibility):
                    problems.add(
                        field,
                        f"service '{pid}' is deployed here already with another package; "
                        "undeploy it or import where it is not",
                    )
                continue
            if self.registry.has(pid):
                problems.add(field, f"service '{pid}' is a built-in service here")
                continue
            if not viewer.can_deploy:
                problems.add(
                    field,
                    f"deploying service '{pid}' needs the developer role; ask an administrator",
                )
                continue
            packages[pid] = proc
        # areas: reused when the importer has one of that name, created otherwise
        area_rows: list[tuple[str, NamedArea | dict[str, Any]]] = []
        feats = (
            (portable.get("areas") or {}).get("features", [])
            if isinstance(portable.get("areas"), dict)
            else None
        )
        if feats is None:
            problems.add("areas", "must be a GeoJSON FeatureCollection")
            feats = []
        mine = {a.name.lower(): a for a in self.areas.all(viewer)}
        for i, f in enumerate(feats):
            field = f"areas.features[{i}]"
            try:
                if not isinstance(f, dict):
                    raise InvalidInput("must be a GeoJSON Feature")
                name = str((f.get("properties") or {}).get("name") or "").strip()
                if not name:
                    raise InvalidInput("properties.name is required")
                geom = parse_area(f.get("geometry"), field=f"{field}.geometry")
            except GepError as e:
                problems.add(field, str(e))
                continue
            old = str(f.get("id") or "")
            if name.lower() in mine:
                area_rows.append((old, mine[name.lower()]))
            else:
                area_rows.append(
                    (
                        old,
                        {
                            "name": name,
                            "geometry": dict(mapping(geom)),
                            "description": (f.get("properties") or {}).get("description"),
                        },
                    )
                )
        new_ids = {}
        for old, a in area_rows:
            new_ids[old] = a.id if isinstance(a, NamedArea) else uuid.uuid4().hex[:12]
        if doc:
            unknown = [a for a in doc.get("areas", []) if a not in new_ids]
            for a in unknown:
                problems.add("app.areas", f"area '{a}' is not among the document's areas")
            doc["areas"] = [new_ids[a] for a in doc.get("areas", []) if a in new_ids]
            # references: everything but the areas (created below) and the packages (deployed)
            check = {
                **doc,
                "areas": [],
                "services": [s for s in doc.get("services", []) if s not in packages],
            }
            carried = {p.get("id") for p in raw_packages if isinstance(p, dict)}
            for p in self.check_references(viewer, check).items:
                name = p["detail"].split("'")[1]
                if p["field"] == "services" and name in carried:
                    continue  # already reported with its package
                if p["field"] == "services":
                    p["detail"] += " (and the document carries no application package for it)"
                problems.add(p["field"], p["detail"])
        problems.raise_if_any("the app cannot be imported")
        # all checked: one transaction
        t = time.time_ns() // 1000
        with self.store.engine.begin() as conn:
            for pid, proc in packages.items():
                conn.execute(
                    text(
                        "INSERT INTO deployed_processes (id, package, media_type, created, "
                        "updated, owner, visibility) VALUES (:id, :p, :m, :t, :t, :o, :v)"
                    ),
                    {
                        "id": pid,
                        "p": proc.text,
                        "m": _media(raw_packages, pid),
                        "t": t,
                        "o": viewer.user_id,
                        "v": PRIVATE,
                    },
                )
            for old, a in area_rows:
                if isinstance(a, NamedArea):
                    continue
                g = shape(a["geometry"])
                west, south, east, north = g.bounds
                conn.execute(
                    text(
                        "INSERT INTO named_areas (id, name, description, geometry, west, south, "
                        "east, north, owner, visibility, created) VALUES "
                        "(:id, :name, :d, :g, :w, :s, :e, :n, :o, :v, :c)"
                    ),
                    {
                        "id": new_ids[old],
                        "name": a["name"],
                        "d": a["description"],
                        "g": orjson.dumps(a["geometry"]).decode(),
                        "w": west,
                        "s": south,
                        "e": east,
                        "n": north,
                        "o": viewer.user_id,
                        "v": PRIVATE,
                        "c": t,
                    },
                )
            new_app = self.store.insert(conn, doc, viewer.user_id)
        for proc in packages.values():
            self.registry.add(proc)
            if on_deployed is not None:
                on_deployed(proc)
        return self.store.get(new_app)


def _media(packages: list[Any], pid: str) -> str:
    return next(
        str(p.get("mediaType") or "application/cwl+yaml")
        for p in packages
        if isinstance(p, dict) and p.get("id") == pid
    )


def _layer_view(layer: dict[str, Any], base: str) -> dict[str, Any]:
    """A layer with the URLs the map draws it from (the render parameters in the query)."""
    c = quote(layer["collection"], safe="")
    params: list[tuple[str, str]] = []
    for k, v in (layer.get("render") or {}).items():
        params.append((k, ",".join(str(x) for x in v) if isinstance(v, list) else str(v)))
    if layer.get("asset"):
        params.append(("assets", layer["asset"]))
    if layer.get("filter") and not layer.get("item"):
        params.append(("filter", layer["filter"]))
    query = ("?" + urlencode(params)) if params else ""
    if layer.get("item"):
        root = f"{base}/stac/collections/{c}/items/{quote(layer['item'], safe='')}"
    else:
        root = f"{base}/stac/collections/{c}"
    return {
        **layer,
        "tiles": f"{root}/tiles/{TMS}/{{z}}/{{x}}/{{y}}{query}",
        "tilejson": f"{root}/{TMS}/tilejson.json{query}",
        "stac": root,
    }


def _bbox_of(
    features: list[dict[str, Any]], collections: list[dict[str, Any]], catalog: CatalogStore
) -> list[float] | None:
    """The view when the app names none: its areas, else its collections' extents."""
    boxes = [f["bbox"] for f in features if f.get("bbox")]
    if not boxes:
        for c in collections:
            try:
                b = catalog.get_collection(c["id"])["extent"]["spatial"]["bbox"][0]
            except (GepError, KeyError, IndexError, TypeError):
                continue
            if b != [-180, -90, 180, 90]:
                boxes.append(b)
    if not boxes:
        return None
    return [
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    ]
