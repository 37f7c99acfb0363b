"""SAR science: orbits, radar geometry, coregistration, interferometry, unwrapping, geocoding.

Each step is a pure function on arrays, usable from a notebook; the `dinsar` and `coin`
services chain them.
"""
