"""Copy PyRate's Mexico City GAMMA stack (unwrapped interferograms + coherence) into package data
and write its manifest (dates, GAMMA perpendicular baseline at the scene centre, slant range and
incidence) for the ``sbas`` demo and tests.

The GeoTIFFs are unchanged copies; the baselines come from GAMMA's own ``base_perp`` tables and
``slc.par`` headers (``tests/data/gamma``). Run once from the repository root, with the shared
data beside the checkout: .venv/bin/python tools/build_mexico_sample.py
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import rasterio

from gep.io.gamma import read_bperp, read_slc_par

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "data" / "pyrate-cropA" / "geotiffs"
GAMMA = ROOT / "tests" / "data" / "gamma"
TARGET = ROOT / "src" / "gep" / "demo" / "data" / "mexico-city"


def main() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    entries = []
    for unw in sorted(SOURCE.glob("cropA_*_VV_8rlks_eqa_unw.tif")):
        pair = unw.name.split("_")[1]  # 20180106-20180130
        cc = unw.with_name(unw.name.replace("_eqa_unw.tif", "_flat_eqa_cc.tif"))
        for f in (unw, cc):
            shutil.copyfile(f, TARGET / f.name)
        with rasterio.open(unw) as src:
            tags = src.tags()
        first = read_slc_par(GAMMA / f"r{pair.split('-')[0]}_VV_slc.par")
        bperp, _ = read_bperp(GAMMA / f"{pair}_VV_8rlks_bperp.par").at_centre()
        entries.append(
            {
                "id": f"mexico-city-{pair}",
                "unwrapped": unw.name,
                "coherence": cc.name,
                "first_date": tags["FIRST_DATE"],
                "second_date": tags["SECOND_DATE"],
                "perpendicular_baseline": round(bperp, 3),
                "slant_range": round(first.center_range, 3),
                "incidence": round(float(tags["INCIDENCE_DEGREES"]), 4),
            }
        )
    (TARGET / "manifest.json").write_text(json.dumps(entries, indent=1) + "\n")
    print(f"{len(entries)} interferograms in {TARGET}")


if __name__ == "__main__":
    main()
