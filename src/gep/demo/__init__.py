"""The demo: sample data and the builders ``gep demo seed`` runs (imported only by the CLI).

* :mod:`.sbas` — the Mexico City interferogram stack (real GAMMA data) and its SBAS result;
* :mod:`.sar` — simulated Sentinel-1 pairs with a known truth (Colli Albani, Rome) and DEMs;
* :mod:`.optical` — Landsat-8 scenes, a simulated lava flow and landslide;
* ``data/`` — the files they start from (about 2 MB; shipped as package data).

Kept apart from the services so that a deployment's code paths never reach demo files, and
so that the services' packages carry no sample data; an import-linter contract keeps every
other package from importing it.
"""
