"""Thematic apps: owned, shareable bundles of collections, services, systematic layers, named
areas and map layers, and their portable export/import (docs/apps.md)."""
