"""The generated Sentinel-1 archive over named areas (``gep.demo.s1_archive``), for the
benchmarks and the systematic-production tests."""

from gep.demo.s1_archive import COLLECTION, Area, archive

__all__ = ["COLLECTION", "Area", "archive"]
