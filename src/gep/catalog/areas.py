"""Named areas of interest that users define: the gazetteer's own entries.

A scientist who watches "Campi Flegrei caldera rim" or "the 2023 Kahramanmaraş rupture" draws it
once and names it; from then on the name works wherever a gazetteer name does
(``/gazetteer/search``, ``?place=`` in STAC search, ``geo:name`` in OpenSearch). The areas live
in the catalogue's database beside the items, so they survive restarts and are shared by every
server of one deployment. Each has an owner and a visibility, like every other user object.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from shapely.geometry import mapping
from sqlalchemy import Engine, text

from gep.catalog.gazetteer import Entry
from gep.core.access import SYSTEM, Viewer
from gep.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from gep.core.geometry import parse_area
from gep.db.visible import select_all_visible, select_visible

#: longest accepted name and description
MAX_NAME = 100
MAX_DESCRIPTION = 2000
#: prior of an area among equally good gazetteer matches: a user's own name beats a city's
AREA_RANK = 1e9
_COLS = "id, name, description, geometry, west, south, east, north, owner, visibility, created"


@dataclass(frozen=True)
class NamedArea:
    id: str
    name: str
    description: str | None
    geometry: dict[str, Any]
    bbox: tuple[float, float, float, float]
    owner: str | None
    visibility: str
    created: int

    def entry(self) -> Entry:
        props: dict[str, Any] = {"id": self.id, "source": "user-defined area"}
        if self.description:
            props["description"] = self.description
        if self.owner:
            props["owner"] = self.owner
        return Entry(self.name, "area", self.geometry, self.bbox, props, AREA_RANK)

    def feature(self) -> dict[str, Any]:
        from gep.core.timeutil import format_rfc3339, from_micros

        f = self.entry().feature(100.0)
        f["properties"].pop("score")
        f["properties"]["visibility"] = self.visibility
        f["properties"]["created"] = format_rfc3339(from_micros(self.created))
        return f


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("name is required: the name the area will be found under", field="name")
    name = " ".join(value.split())
    if len(name) > MAX_NAME:
        raise InvalidInput(f"name is longer than {MAX_NAME} characters", field="name")
    return name


def _description(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"description must be text of at most {MAX_DESCRIPTION} characters",
            field="description",
        )
    return value


class AreaStore:
    """Named areas in the catalogue database (table ``named_areas``, migration 0007)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        name: Any,
        area: Any,
        *,
        description: Any = None,
        owner: str | None = None,
        visibility: str = "public",
    ) -> NamedArea:
        """Store a new area; ``area`` is a bbox or a GeoJSON (Multi)Polygon.

        One owner cannot have two areas of the same name: the name is how they find it.
        """
        clean = _name(name)
        geom = parse_area(area, field="geometry")
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise InvalidInput(
                f"geometry must be an area (a bbox, Polygon or MultiPolygon), not a "
                f"{geom.geom_type}",
                field="geometry",
            )
        record = NamedArea(
            id=uuid.uuid4().hex[:12],
            name=clean,
            description=_description(description),
            geometry=dict(mapping(geom)),
            bbox=tuple(float(v) for v in geom.bounds),  # type: ignore[arg-type]
            owner=owner,
            visibility=visibility,
            created=time.time_ns() // 1000,
        )
        with self.engine.begin() as conn:
            same = conn.execute(
                text(
                    "SELECT id FROM named_areas WHERE lower(name) = lower(:n) AND "
                    "(owner = :o OR (owner IS NULL AND :o IS NULL))"
                ),
                {"n": clean, "o": owner},
            ).first()
            if same is not None:
                raise Conflict(
                    f"you already have an area named '{clean}' (id {same[0]}); delete it or "
                    "choose another name",
                    field="name",
                )
            w, s, e, n = record.bbox
            conn.execute(
                text(
                    f"INSERT INTO named_areas ({_COLS}) VALUES "
                    "(:id, :name, :d, :g, :w, :s, :e, :n, :o, :v, :c)"
                ),
                {
                    "id": record.id,
                    "name": record.name,
                    "d": record.description,
                    "g": orjson.dumps(record.geometry).decode(),
                    "w": w,
                    "s": s,
                    "e": e,
                    "n": n,
                    "o": owner,
                    "v": visibility,
                    "c": record.created,
                },
            )
        return record

    def get(self, area_id: str, viewer: Viewer = SYSTEM) -> NamedArea:
        """One area; NotFound when it does not exist or ``viewer`` may not see it."""
        with self.engine.connect() as conn:
            row = select_visible(conn, "named_areas", _COLS, {"id": area_id}, viewer)
        if row is None:
            raise NotFound(f"no named area with id '{area_id}'", field="area")
        return _area(row)

    def all(self, viewer: Viewer = SYSTEM) -> list[NamedArea]:
        """The areas ``viewer`` may see."""
        with self.engine.connect() as conn:
            rows = select_all_visible(conn, "named_areas", _COLS, viewer, "name, id")
        return [_area(r) for r in rows]

    def delete(self, area_id: str, viewer: Viewer = SYSTEM) -> None:
        """Delete an area: its owner's (or an administrator's) right; 403 for others who may
        see it, 404 for those who may not."""
        area = self.get(area_id, viewer)
        if not viewer.may_change(area.owner):
            raise Forbidden(f"named area '{area.name}' is not yours to delete", field="area")
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM named_areas WHERE id = :id"), {"id": area_id})

    def share(self, area_id: str, visibility: str, viewer: Viewer = SYSTEM) -> NamedArea:
        area = self.get(area_id, viewer)
        if not viewer.may_change(area.owner):
            raise Forbidden(f"named area '{area.name}' is not yours to share", field="area")
        with self.engine.begin() as conn:
            conn.execute(
                text("UPDATE named_areas SET visibility = :v WHERE id = :id"),
                {"v": visibility, "id": area_id},
            )
        return self.get(area_id, viewer)

    def entries(self, viewer: Viewer = SYSTEM) -> list[Entry]:
        """The areas ``viewer`` may see, as gazetteer entries (kind ``area``)."""
        return [a.entry() for a in self.all(viewer)]


def _area(row: Any) -> NamedArea:
    return NamedArea(
        id=row[0],
        name=row[1],
        description=row[2],
        geometry=orjson.loads(row[3]),
        bbox=(float(row[4]), float(row[5]), float(row[6]), float(row[7])),
        owner=row[8],
        visibility=row[9],
        created=int(row[10]),
    )
