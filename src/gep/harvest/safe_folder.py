"""A folder of Sentinel-1 SAFE products (``.SAFE`` directories or SAFE zips).

Listing a folder is cheap, opening products is not, so the folder is listed once per page and
only the products of that page are opened. Order and checkpoint come from the acquisition start
in the product name (the ESA naming convention), which needs no opening at all; the cursor is
the (start, name) of the last product of the page, so products dropped into the folder later
with an older start are still picked up by a full run (``gep harvest run --full``). Products are
read with :mod:`gep.io.sentinel1` and made items by :mod:`gep.io.sentinel1_stac`, the one SAFE
crosswalk (uploaded SAFE zips go through it too).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from gep.core.errors import GepError
from gep.core.timeutil import format_rfc3339
from gep.harvest.base import HarvestError, Page, Source
from gep.io.sentinel1_stac import safe_item

_NAME = re.compile(
    r"^(?P<mission>S1[A-D])_(?P<mode>[A-Z0-9]{2})_(?P<type>[A-Z_]{4})_(?P<level>\d)"
    r"(?P<cls>[SA])(?P<pol>[A-Z]{2})_(?P<start>\d{8}T\d{6})_(?P<stop>\d{8}T\d{6})_"
)


def folder_of(url: str) -> Path:
    if url.startswith("file://"):
        url = url.removeprefix("file://")
    elif "://" in url:
        raise HarvestError(
            f"{url}: only local folders (a path or file:// URL) can be harvested as SAFE folders"
        )
    return Path(url).expanduser()


def _start_of(name: str) -> datetime | None:
    m = _NAME.match(name)
    if not m:
        return None
    return datetime.strptime(m["start"], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)


class SafeFolderSource(Source):
    kind = "safe"
    unnamed = "not a Sentinel-1 product name (MMM_BB_TTTR_LFPP_YYYYMMDDTHHMMSS_…)"

    def _candidate(self, entry: Path) -> bool:
        return (entry.name.endswith(".SAFE") and entry.is_dir()) or entry.suffix == ".zip"

    def _start_of(self, name: str) -> datetime | None:
        return _start_of(name)

    def start(self, since: datetime | None) -> dict[str, Any]:
        return {"since": None if since is None else format_rfc3339(since), "after": None}

    def fetch(self, cursor: Mapping[str, Any]) -> Page:
        folder = folder_of(self.config.url)
        if not folder.is_dir():
            raise HarvestError(f"{folder} is not a folder (or is not reachable)")
        size = int(self.config.params.get("limit", 50))
        since = cursor.get("since")
        after = tuple(cursor["after"]) if cursor.get("after") else None
        listed: list[tuple[str, str, Path]] = []
        unnamed: list[str] = []
        for entry in folder.iterdir():
            if not self._candidate(entry):
                continue
            start = self._start_of(entry.name)
            if start is None:
                unnamed.append(entry.name)
                continue
            key = (format_rfc3339(start), entry.name)
            if since and key[0] < since:
                continue
            if after and key <= after:
                continue
            listed.append((*key, entry))
        listed.sort()
        page = Page(items=[])
        if after is None:  # report names that cannot be ordered once, on the first page
            page.errors.extend(f"{n}: {self.unnamed}" for n in sorted(unnamed))
        for _start, name, path in listed[:size]:
            try:
                page.items.append(self._item(path))
            except GepError as exc:
                page.errors.append(f"{name}: {exc.message}")
            except (OSError, KeyError, ValueError) as exc:
                page.errors.append(f"{name}: unreadable ({exc})")
        if len(listed) > size:
            last_start, last_name, _ = listed[size - 1]
            page.next = {"since": since, "after": [last_start, last_name]}
        return page

    def _item(self, path: Path) -> dict[str, Any]:
        return self.stac_item(safe_item(path))


_EOF_NAME = re.compile(
    r"^(?P<mission>S1[A-D])_OPER_AUX_(?P<kind>POEORB|RESORB)_OPOD_\d{8}T\d{6}_"
    r"V(?P<start>\d{8}T\d{6})_(?P<stop>\d{8}T\d{6})\.EOF$",
    re.IGNORECASE,
)
#: an orbit file is valid everywhere its satellite flies: its item covers the globe
_WORLD = {
    "type": "Polygon",
    "coordinates": [[[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]]],
}


class OrbitFolderSource(SafeFolderSource):
    """A folder of Sentinel-1 orbit files (``*.EOF``, POEORB/RESORB), as items with their
    validity (start/end_datetime) and an ``orbit`` asset: what ``orbit: precise`` finds when
    the source's collection is ``sentinel-1-orbits`` (a data root of orbit files made
    searchable, incrementally like the SAFE folders)."""

    kind = "eof"
    unnamed = "not a Sentinel-1 orbit file name (S1A_OPER_AUX_POEORB_OPOD_…_V…_….EOF)"

    def _candidate(self, entry: Path) -> bool:
        return entry.is_file() and entry.suffix.upper() == ".EOF"

    def _start_of(self, name: str) -> datetime | None:
        m = _EOF_NAME.match(name)
        if not m:
            return None
        return datetime.strptime(m["start"], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)

    def _item(self, path: Path) -> dict[str, Any]:
        from gep.io.orbit_files import read_orbit_file

        orbit = read_orbit_file(path)
        first = np.datetime_as_string(orbit.vectors.time[0], unit="us") + "Z"
        last = np.datetime_as_string(orbit.vectors.time[-1], unit="us") + "Z"
        return self.stac_item(
            {
                "type": "Feature",
                "stac_version": "1.1.0",
                "id": path.name.removesuffix(".EOF").removesuffix(".eof"),
                "geometry": _WORLD,
                "bbox": [-180, -90, 180, 90],
                "properties": {
                    "datetime": first,
                    "start_datetime": first,
                    "end_datetime": last,
                    "platform": f"sentinel-1{orbit.mission[-1].lower()}",
                    "constellation": "sentinel-1",
                    "s1:orbit_type": orbit.kind,
                    "gep:state_vectors_count": len(orbit.vectors.time),
                },
                "links": [],
                "assets": {
                    "orbit": {
                        "href": path.resolve().as_uri(),
                        "type": "application/xml",
                        "roles": ["metadata"],
                        "title": f"{orbit.kind} orbit file",
                    }
                },
            }
        )
