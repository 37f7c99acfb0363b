"""ASGI entry point for multi-worker servers (``uvicorn gep.api.asgi:app``)."""

from gep.api.app import create_app
from gep.settings import Settings

app = create_app(Settings())
