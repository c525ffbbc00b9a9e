"""The demo page: GET /tts/demo and its script and style, plain files from serving/tts/demo/.

No build step and nothing from another host, so the page works offline. The files are read once,
when the routes are registered. They hold nothing secret, so they are served without the API key
(routes.OPEN_PATHS takes `PATHS`); the page sends the key, when the user gives one, to the API.
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response

from ..core.errors import error_response

PAGE_PATH = "/tts/demo"
#: the page links its assets relative to itself ("demo/demo.js"), so it works under a proxy's prefix too
ASSET_PREFIX = f"{PAGE_PATH}/"
DEMO_DIR = Path(__file__).resolve().parent / "demo"
PAGE_FILE = "demo.html"
ASSET_TYPES = {
    "demo.js": "text/javascript; charset=utf-8",
    "demo.css": "text/css; charset=utf-8",
}
PATHS = frozenset({PAGE_PATH, *(ASSET_PREFIX + name for name in ASSET_TYPES)})


def register(app: FastAPI) -> None:
    """Adds the page's routes; call it before the /tts/{unknown:path} catch-all."""
    page = (DEMO_DIR / PAGE_FILE).read_bytes()
    assets = {name: (DEMO_DIR / name).read_bytes() for name in ASSET_TYPES}

    @app.get(PAGE_PATH, include_in_schema=False)
    async def demo_page() -> Response:
        return Response(page, media_type="text/html; charset=utf-8")

    @app.get(ASSET_PREFIX + "{name}", include_in_schema=False)
    async def demo_asset(name: str) -> Response:
        if name not in assets:
            return error_response(404, f"no demo asset {name!r}; the page is at GET {PAGE_PATH}")
        return Response(assets[name], media_type=ASSET_TYPES[name])
