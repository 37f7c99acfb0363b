"""The offline item validator the result tests rely on: it checks extensions, and it fails."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tests.support.stac_validation import assert_valid_stac, stac_validate

RENDER = "https://stac-extensions.github.io/render/v2.0.0/schema.json"
PROJ = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"

ITEM: dict[str, Any] = {
    "type": "Feature",
    "stac_version": "1.1.0",
    "stac_extensions": [RENDER, PROJ, RASTER],
    "id": "x",
    "geometry": {"type": "Point", "coordinates": [12.7, 41.7]},
    "bbox": [12.7, 41.7, 12.7, 41.7],
    "properties": {
        "datetime": "2022-01-16T00:00:00Z",
        "renders": {
            "los": {"title": "LOS", "assets": ["los"], "rescale": [[-0.05, 0.05]],
                    "colormap_name": "rdbu"},
        },
    },
    "assets": {
        "los": {
            "href": "http://gep.test/stac/collections/dinsar/items/x/assets/los",
            "type": "image/tiff; application=geotiff; profile=cloud-optimized",
            "proj:code": "EPSG:4326",
            "proj:shape": [10, 10],
            "proj:transform": [0.001, 0, 12.7, 0, -0.001, 41.7],
            "raster:bands": [{"data_type": "float32", "unit": "m", "nodata": "nan"}],
        }
    },
    "links": [],
}  # fmt: skip


def test_a_valid_item_passes_with_its_extensions_checked(tmp_path: Path) -> None:
    checked = assert_valid_stac([ITEM], tmp_path)
    assert {RENDER, PROJ, RASTER} <= set(checked)


def test_extension_errors_and_unknown_schemas_fail(tmp_path: Path) -> None:
    bad_render = copy.deepcopy(ITEM)
    bad_render["properties"]["renders"]["los"]["colormap_name"] = 5
    bad_proj = copy.deepcopy(ITEM)
    bad_proj["assets"]["los"]["proj:shape"] = [10]
    unknown = copy.deepcopy(ITEM)
    unknown["stac_extensions"].append("https://stac-extensions.github.io/nope/v9.9.9/schema.json")
    lines = stac_validate([bad_render, bad_proj, unknown], tmp_path)
    assert [line["valid"] for line in lines[:-1]] == [False, False, False]
    assert "colormap_name" in lines[0]["error_message"]
    assert lines[-1]["missing_schemas"] == [
        "https://stac-extensions.github.io/nope/v9.9.9/schema.json"
    ]
