"""An uploaded CSV time series: a column of dates or times, one or more numeric columns, and
where it was measured.

The place comes from the table itself, so the file stays self-describing wherever it is
copied: ``lon``/``lat`` columns (or ``longitude``/``latitude``, ``lng``), or a ``geometry``
(``wkt``, ``geom``) column of WKT. A series without either has no footprint and is refused.
The file is read once, row by row, keeping only what the item needs (the time span, the
column types, the distinct places up to a bound), so its size does not matter.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import shapely
from shapely.errors import ShapelyError
from shapely.geometry import MultiPoint, Point, box, mapping

from gep.core import media
from gep.gateway.uploads.model import (
    Catalogued,
    DatetimeSource,
    StagedFile,
    UploadKind,
    parse_time,
    refuse,
    safe_name,
    timestamp_properties,
)

TABLE = "https://stac-extensions.github.io/table/v1.2.0/schema.json"
LON_NAMES = ("lon", "longitude", "lng", "long")
LAT_NAMES = ("lat", "latitude")
GEOMETRY_NAMES = ("geometry", "wkt", "geom")
TIME_NAMES = ("datetime", "time", "date", "timestamp", "epoch", "t")
#: distinct places kept for the footprint; past this the bounding box stands for them
MAX_PLACES = 10_000
_SAMPLE = 64 * 1024


@dataclass
class _Column:
    name: str
    numbers: int = 0
    times: int = 0
    blanks: int = 0
    other: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def see(self, value: str) -> None:
        v = value.strip()
        if not v or v.lower() in ("nan", "na", "null", "none"):
            self.blanks += 1
            return
        if _number(v) is not None:
            self.numbers += 1
            return
        t = parse_time(v)
        if t is None:
            self.other += 1
            return
        self.times += 1
        self.first = t if self.first is None or t < self.first else self.first
        self.last = t if self.last is None or t > self.last else self.last

    @property
    def kind(self) -> str:
        """The table extension's type of the column."""
        if self.times and not self.numbers and not self.other:
            return "datetime"
        if self.numbers and not self.times and not self.other:
            return "number"
        return "string"


@dataclass
class _Places:
    points: set[tuple[float, float]] = field(default_factory=set)
    shapes: list[Any] = field(default_factory=list)
    bounds: list[float] = field(default_factory=lambda: [math.inf, math.inf, -math.inf, -math.inf])
    overflow: bool = False

    def add_point(self, lon: float, lat: float) -> None:
        self._grow(lon, lat, lon, lat)
        if len(self.points) < MAX_PLACES:
            self.points.add((lon, lat))
        elif (lon, lat) not in self.points:
            self.overflow = True

    def add_shape(self, geom: Any) -> None:
        self._grow(*geom.bounds)
        if len(self.shapes) < MAX_PLACES:
            self.shapes.append(geom)
        else:
            self.overflow = True

    def _grow(self, w: float, s: float, e: float, n: float) -> None:
        b = self.bounds
        self.bounds = [min(b[0], w), min(b[1], s), max(b[2], e), max(b[3], n)]

    def footprint(self) -> Any:
        if self.overflow:
            return box(*self.bounds)
        if self.shapes:
            return shapely.convex_hull(shapely.GeometryCollection(self.shapes))
        if len(self.points) == 1:
            return Point(next(iter(self.points)))
        return MultiPoint(sorted(self.points)).convex_hull


def catalogue_table(path: Path, filename: str, now: datetime) -> Catalogued:
    """The item's metadata (time span, columns, place) and the CSV itself, stored as it is."""
    text = _open_text(path, filename)
    with text:
        sample = text.read(_SAMPLE)
        text.seek(0)
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(text, dialect)
        try:
            header = [h.strip() for h in next(reader)]
        except (StopIteration, csv.Error):
            raise refuse(filename, "an empty table: no header row") from None
        _check_header(header, filename)
        columns = [_Column(h) for h in header]
        lowered = [h.lower() for h in header]
        lon_i = _index(lowered, LON_NAMES)
        lat_i = _index(lowered, LAT_NAMES)
        geom_i = _index(lowered, GEOMETRY_NAMES)
        places = _Places()
        rows = 0
        try:
            for line, row in enumerate(reader, start=2):
                if not any(c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    raise refuse(
                        filename,
                        f"row {line} has {len(row)} values where the header names {len(header)}",
                    )
                rows += 1
                for col, value in zip(columns, row, strict=True):
                    col.see(value)
                _place(row, lon_i, lat_i, geom_i, places, filename, line)
        except csv.Error as exc:
            raise refuse(filename, f"not a readable CSV table ({exc})") from None
    time_col = _time_column(columns, lowered, filename)
    numeric = [
        c for c in columns if c.kind == "number" and c.name.lower() not in LON_NAMES + LAT_NAMES
    ]
    if not numeric:
        raise refuse(
            filename,
            "not a time series: no numeric column of values besides the coordinates",
        )
    if lon_i is None and geom_i is None:
        raise refuse(
            filename,
            "no footprint: a time series needs where it was measured, as lon and lat columns "
            "(or longitude/latitude) or a geometry column of WKT",
        )
    if places.bounds[0] == math.inf:
        raise refuse(filename, "no footprint: its coordinate columns are empty")
    geom = places.footprint()
    props: dict[str, Any] = {
        **timestamp_properties(time_col.first, time_col.last, DatetimeSource.TIME_SERIES, now),
        "table:columns": [{"name": c.name, "type": c.kind} for c in columns],
        "table:row_count": rows,
        "gep:time_column": time_col.name,
    }
    return Catalogued(
        kind=UploadKind.CSV,
        geometry=mapping(geom),
        bbox=list(geom.bounds),
        properties=props,
        files=[
            StagedFile(
                path,
                safe_name(filename, "series.csv"),
                "data",
                media.CSV,
                ("data",),
                "The uploaded time series",
            )
        ],
        extensions=[TABLE],
    )


def _open_text(path: Path, filename: str) -> io.TextIOWrapper:
    """UTF-8 (a BOM allowed) when it decodes as such, else Latin-1 (every byte is a
    character there, so an old spreadsheet export still reads)."""
    try:
        with open(path, encoding="utf-8-sig") as probe:
            while probe.read(1 << 20):
                pass
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        encoding = "latin-1"
    return open(path, encoding=encoding, newline="")


def _check_header(header: list[str], filename: str) -> None:
    if len(header) < 2:
        raise refuse(
            filename,
            "not a table: the first row names fewer than two columns (a time series needs a "
            "time column and a value column)",
        )
    if any(not h for h in header):
        raise refuse(filename, "the header row has a column without a name")
    seen = {h.lower() for h in header}
    if len(seen) != len(header):
        raise refuse(filename, "the header row names a column twice")


def _index(names: list[str], wanted: tuple[str, ...]) -> int | None:
    for w in wanted:
        if w in names:
            return names.index(w)
    return None


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _place(
    row: list[str],
    lon_i: int | None,
    lat_i: int | None,
    geom_i: int | None,
    places: _Places,
    filename: str,
    line: int,
) -> None:
    if lon_i is not None and lat_i is not None:
        lon, lat = _number(row[lon_i].strip()), _number(row[lat_i].strip())
        if row[lon_i].strip() or row[lat_i].strip():
            if lon is None or lat is None or not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise refuse(
                    filename,
                    f"row {line}: lon/lat ({row[lon_i]!r}, {row[lat_i]!r}) is not a place on "
                    "Earth (degrees, lon -180…180, lat -90…90)",
                )
            places.add_point(lon, lat)
        return
    if geom_i is not None and row[geom_i].strip():
        try:
            geom = shapely.from_wkt(row[geom_i])
        except (ShapelyError, ValueError):
            raise refuse(filename, f"row {line}: the geometry is not WKT") from None
        w, s, e, n = geom.bounds
        if geom.is_empty or not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
            raise refuse(filename, f"row {line}: the geometry is not in longitude/latitude")
        places.add_shape(geom)


def _time_column(columns: list[_Column], lowered: list[str], filename: str) -> _Column:
    """The column of times: one named as such when its values are times, else the first
    whose every value is one."""
    timed = [c for c in columns if c.kind == "datetime"]
    for name in TIME_NAMES:
        for c in timed:
            if c.name.lower() == name:
                return c
    if timed:
        return timed[0]
    raise refuse(
        filename,
        "not a time series: no column holds dates or times (ISO 8601, e.g. 2021-04-01 or "
        "2021-04-01T05:26:22Z)",
    )
