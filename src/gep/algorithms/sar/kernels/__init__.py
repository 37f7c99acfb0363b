"""Fast array kernels of the DInSAR chain: interferogram, coherence, Goldstein filter, resampling.

Pure functions on arrays (complex64 / float32 in, complex64 / float32 out).  Each hot loop is a
fused numba kernel (``parallel=True, cache=True``): a Sentinel-1 IW burst pair is ~30 Mpixel
per image (240 MB of complex64), so the kernels are written to read each input once, keep the
intermediate products in cache-sized row buffers, and never materialise full-size temporaries
(``ref * conj(sec) * exp(-1j * phase)`` in numpy allocates four 240 MB arrays and computes a
complex ``exp``; here it is one pass with a vectorisable polynomial sin/cos).  When numba cannot
be imported the same functions run on plain numpy/scipy (slower, same results to float32
rounding), so the science does not depend on the JIT.

Conventions (the rest of the chain relies on them):

* interferogram ``z = ref · conj(sec) · exp(-i·phase)``: ``phase`` is the synthetic
  flat-earth + topographic phase of ``ref · conj(sec)``, so removing it leaves deformation,
  atmosphere and noise;
* ``looks = (azimuth, range)`` = (rows, columns); outputs are cropped to whole windows;
* coherence ``|Σz| / sqrt(Σ|ref|² Σ|sec|²)``, the usual (biased) sample estimator;
* resampling offsets are in pixels: ``out[i, j] = slc(i + az_offset, j + rg_offset)``.

The kernels live in one module per operation: :mod:`.interferometry` (multilook, interferogram,
coherence), :mod:`.filtering` (Goldstein-Werner) and :mod:`.resampling`; :mod:`._common` holds
the JIT switch, the vectorisable sin/cos and the argument checks they share.  This package
re-exports the public functions, which are its API.
"""

from __future__ import annotations

from gep.algorithms.sar.kernels.filtering import goldstein
from gep.algorithms.sar.kernels.interferometry import (
    coherence,
    coherence_from_ifg,
    interferogram_multilook,
    multilook,
)
from gep.algorithms.sar.kernels.resampling import resample, resample_kernel

__all__ = [
    "coherence",
    "coherence_from_ifg",
    "goldstein",
    "interferogram_multilook",
    "multilook",
    "resample",
    "resample_kernel",
]
