"""Deformation source models with closed-form surface displacements."""

from gep.algorithms.models.los import los_unit_vector, project_los
from gep.algorithms.models.mogi import mogi
from gep.algorithms.models.okada import okada85

__all__ = ["los_unit_vector", "mogi", "okada85", "project_los"]
