"""A folder of Sentinel-1 SAFE products (``.SAFE`` directories or SAFE zips).

Listing a folder is cheap, opening products is not, so the folder is listed once per page and
only the products of that page are opened. Order and checkpoint come from the acquisition start
in the product name (the ESA naming convention), which needs no opening at all; the cursor is
the (start, name) of the last product of the page, so products dropped into the folder later
with an older start are still picked up by a full run (``gep harvest run --full``). Products are
read with :mod:`gep.io.sentinel1`: the manifest always, the annotation orbit when present.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shapely.geometry import mapping

from gep.core.errors import GepError
from gep.core.sar import state_vectors_to_json
from gep.core.timeutil import format_rfc3339
from gep.harvest.base import HarvestError, Page, Source
from gep.io.sentinel1 import product_summary

_NAME = re.compile(
    r"^(?P<mission>S1[A-D])_(?P<mode>[A-Z0-9]{2})_(?P<type>[A-Z_]{4})_(?P<level>\d)"
    r"(?P<cls>[SA])(?P<pol>[A-Z]{2})_(?P<start>\d{8}T\d{6})_(?P<stop>\d{8}T\d{6})_"
)

STAC_EXTENSIONS = [
    "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
    "https://stac-extensions.github.io/sar/v1.0.0/schema.json",
]


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
            if not (entry.name.endswith(".SAFE") and entry.is_dir()) and entry.suffix != ".zip":
                continue
            start = _start_of(entry.name)
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
            page.errors.extend(
                f"{n}: not a Sentinel-1 product name (MMM_BB_TTTR_LFPP_YYYYMMDDTHHMMSS_…)"
                for n in sorted(unnamed)
            )
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
        s = product_summary(path)
        a = s.attrs
        if s.footprint is None:
            raise ValueError("the manifest has no footprint")
        start = datetime.fromisoformat(a["start_time"]).replace(tzinfo=UTC)
        stop = datetime.fromisoformat(a["stop_time"]).replace(tzinfo=UTC)
        props: dict[str, Any] = {
            "datetime": format_rfc3339(start),
            "start_datetime": format_rfc3339(start),
            "end_datetime": format_rfc3339(stop),
            "platform": f"sentinel-1{a['number'].lower()}",
            "constellation": "sentinel-1",
            "instruments": ["c-sar"],
            "sar:instrument_mode": a["mode"],
            "sar:frequency_band": "C",
            "sar:center_frequency": 5.405,
            "sar:polarizations": list(a.get("transmitter_receiver_polarisations") or []),
            "sar:product_type": a["product_type"],
            "sat:orbit_state": str(a["pass"]).lower(),
            "sat:absolute_orbit": int(a["orbit_number"]),
            "sat:relative_orbit": int(a["relative_orbit_number"]),
        }
        if a.get("ascending_node_time"):
            anx = datetime.fromisoformat(a["ascending_node_time"]).replace(tzinfo=UTC)
            props["sat:anx_datetime"] = format_rfc3339(anx)
        if a.get("mission_data_take_id") is not None:
            props["s1:datatake_id"] = str(a["mission_data_take_id"])
        if s.swaths:
            props["s1:swaths"] = sorted({sw for sw, _ in s.swaths})
        if s.orbit is not None:
            props["gep:state_vectors"] = state_vectors_to_json(s.orbit)
        href = path.resolve().as_uri()
        item: dict[str, Any] = {
            "type": "Feature",
            "stac_version": "1.0.0",
            "stac_extensions": list(STAC_EXTENSIONS),
            "id": s.name,
            "geometry": mapping(s.footprint),
            "bbox": list(s.footprint.bounds),
            "properties": props,
            "assets": {
                "product": {
                    "href": href,
                    "type": "application/zip" if path.suffix == ".zip" else "application/x-safe",
                    "roles": ["data"],
                    "title": "SAFE product",
                }
            },
            "links": [],
        }
        return self.stac_item(item)
