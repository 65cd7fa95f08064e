"""The pages' assets, served by this server: the style sheet, the chart drawer, and
plotly.js from the installed plotly package (DESIGN: no CDN, nothing fetched at run
time). Each is read once and cached by the browser for a day."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import plotly.offline
from fastapi import APIRouter, Response

from crossline.api.errors import not_found

router = APIRouter(prefix="/assets")

STATIC = Path(__file__).parent / "static"
TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
CACHED = {"Cache-Control": "public, max-age=86400"}


@cache
def _plotly() -> bytes:
    script: str = plotly.offline.get_plotlyjs()
    return script.encode()


@cache
def _static(name: str) -> bytes | None:
    path = STATIC / name
    if path.suffix not in TYPES or not path.is_file():
        return None
    return path.read_bytes()


@router.get("/plotly.js")
def plotly_js() -> Response:
    return Response(_plotly(), media_type=TYPES[".js"], headers=CACHED)


@router.get("/{name}")
def static(name: str) -> Response:
    """One of the files in ``static/`` by name (no paths: nothing else is reachable)."""
    body = _static(name) if "/" not in name else None
    if body is None:
        raise not_found("asset")
    return Response(body, media_type=TYPES[Path(name).suffix], headers=CACHED)
