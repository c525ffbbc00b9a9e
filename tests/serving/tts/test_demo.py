"""The demo page's routes in-process: served, self-contained (nothing from another host), linked
from GET /tts/, open without the API key while the API stays closed. The page's behaviour in a
browser is tests/server/test_demo_browser.py."""

import re
import typing
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest

from schemas import AudioFormat
from serving.core.config import ServingSettings
from serving.tts import demo

pytestmark = [pytest.mark.http, pytest.mark.anyio]

BASE = "http://tts.test"


class PageLinks(HTMLParser):
    """The page's ids, the URLs its tags name, and its format picker's values."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.urls: list[str] = []
        self.formats: list[str] = []
        self._in_format = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.add(attributes["id"])
        self.urls.extend(attributes[name] for name in ("src", "href") if attributes.get(name))
        if tag == "select":
            self._in_format = attributes.get("id") == "format"
        if tag == "option" and self._in_format:
            self.formats.append(attributes["value"])


async def page_links(client) -> PageLinks:
    links = PageLinks()
    links.feed((await client.get(demo.PAGE_PATH)).text)
    return links


async def test_the_page_is_html_and_every_asset_it_names_loads(client):
    reply = await client.get(demo.PAGE_PATH)
    assert reply.status_code == 200 and reply.headers["content-type"] == "text/html; charset=utf-8"
    links = await page_links(client)
    fetched = {}
    for url in links.urls:
        if url.startswith("data:"):
            continue
        absolute = urljoin(BASE + demo.PAGE_PATH, url)
        assert urlsplit(absolute).netloc == "tts.test", f"{url} is on another host"
        asset = await client.get(absolute)
        assert asset.status_code == 200, url
        fetched[urlsplit(absolute).path] = asset.headers["content-type"]
    assert fetched == {
        "/tts/demo/demo.js": "text/javascript; charset=utf-8",
        "/tts/demo/demo.css": "text/css; charset=utf-8",
    }


async def test_nothing_is_fetched_from_another_host(client):
    """The page must work offline: no absolute URL anywhere, no CSS import or url()."""
    for path in sorted(demo.PATHS):
        body = (await client.get(path)).text
        assert not re.search(r"https?://", body), path
        assert not re.search(r"@import|url\(", body), path
    assert not any(url.startswith("//") for url in (await page_links(client)).urls)


async def test_every_element_the_script_uses_is_on_the_page(client):
    script = (await client.get("/tts/demo/demo.js")).text
    used = set(re.findall(r'\$\("([\w-]+)"\)', script))
    assert {"text", "voice", "speed", "format", "speak", "error", "played", "transcript"} <= used
    assert used <= (await page_links(client)).ids


async def test_the_format_picker_offers_every_format_the_api_speaks(client):
    assert sorted((await page_links(client)).formats) == sorted(typing.get_args(AudioFormat))


async def test_the_api_description_links_the_page_and_unknown_assets_are_json_404s(client):
    assert f"GET {demo.PAGE_PATH}" in (await client.get("/tts/")).json()["endpoints"]
    missing = await client.get("/tts/demo/nothing.js")
    assert missing.status_code == 404 and "GET /tts/demo" in missing.json()["error"]


async def test_with_an_api_key_the_page_loads_and_the_api_stays_closed(make_server):
    client = make_server(settings=ServingSettings(api_key="s3cret")).client
    for path in demo.PATHS:
        assert (await client.get(path)).status_code == 200, path
    assert (await client.get("/tts/voices")).status_code == 401
    assert (await client.get("/tts/demo/nothing.js")).status_code == 401
    stream = await client.post("/tts/stream", json={"text": "Hi.", "voice": "af_heart"})
    assert stream.status_code == 401
    keyed = await client.get("/tts/voices", headers={"Authorization": "Bearer s3cret"})
    assert keyed.status_code == 200
