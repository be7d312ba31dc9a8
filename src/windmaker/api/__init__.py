"""The JSON API (FastAPI) under ``/api/v1`` and the app that also serves the web dashboard."""
