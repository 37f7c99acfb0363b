"""GEP: an open Geohazards Exploitation Platform."""

__version__ = "0.1.0"
