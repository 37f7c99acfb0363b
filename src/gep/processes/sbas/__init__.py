"""``sbas``: ground-motion velocity and displacement time series from a stack of interferograms.

Runs the small-baseline inversion (:mod:`gep.algorithms.timeseries`) block by block over a
stack of geocoded unwrapped interferograms — ``dinsar`` results, or any GeoTIFF interferograms
in the catalogue (e.g. the Mexico City sample collection) — and publishes the mean LOS velocity
(mm/yr) with its standard error, the temporal coherence, the LOS displacement of every date
(mm, one COG each), PNG quicklooks with legends, a KMZ of the velocity and a CSV of the time
series at the requested points and the reference.

Or, given a ``network`` of SLC pairs (as ``POST /insar/network`` answers it), the job first
forms each pair's unwrapped interferogram with the ``dinsar`` chain
(:func:`gep.processes.dinsar.form_interferogram`), all geocoded on the first pair's grid and
kept among its results, then inverts them the same way.

Everything that can be refused is refused before work starts (in ``preflight``, from the
catalogue items and the rasters' headers; again when the job starts): interferograms on
different grids or without dates, dates that do not form a network, fewer than 3 acquisitions,
a reference point outside the grid or on no-data, points outside the grid; for a network,
dinsar's checks of every pair (tracks, dates, footprints, aoi, DEM) and its dates' network.

The package holds one module per stage: :mod:`.inputs` (the request and its answer),
:mod:`.stack` (interferograms read and checked into a stack, the reference, the model),
:mod:`.network` (a network of SLC pairs formed by the dinsar chain), :mod:`.products` (the
inversion streamed block by block into COGs, quicklooks, KMZ and CSV) and :mod:`.service`
(the ``sbas`` process). ``Sbas`` is re-exported here: the ``gep.processes`` entry point names
``gep.processes.sbas:Sbas``.
"""

from __future__ import annotations

from gep.processes.sbas.service import Sbas

__all__ = ["Sbas"]
