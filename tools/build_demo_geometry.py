"""Extract the swath geometry of the real Rome annotation (tests/data) into package data.

The demo pairs of ``gep demo seed`` take their acquisition geometry (orbit, timing, range
sampling) from this real Sentinel-1 annotation; shipping the 5 kB JSON instead of the 1 MB XML
keeps the package small. Run: .venv/bin/python tools/build_demo_geometry.py
"""

from __future__ import annotations

import json
from pathlib import Path

from gep.core.sar import swath_geometry_to_json
from gep.io.sentinel1 import open_swath

ROOT = Path(__file__).resolve().parents[1]
SAFE = (
    ROOT
    / "tests/data/s1"
    / "S1A_IW_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1.SAFE"
)
OUT = ROOT / "src/gep/demo/data/s1a_20220104_rel117_iw1_vv_geometry.json"

if __name__ == "__main__":
    geom = open_swath(SAFE, "IW1", "VV")
    data = swath_geometry_to_json(geom)
    data["source_product"] = SAFE.name
    OUT.write_text(json.dumps(data, indent=1))
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size} bytes)")
