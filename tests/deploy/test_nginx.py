"""deploy/nginx.conf, run by Debian's nginx in front of the live server and of a header-echoing stub.

The conf is used as written except for its three marked lines (upstream address, listen port,
access log path), so what passes here is what a user installs. Needs the `nginx` binary (apt-get install nginx).
"""

import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aiohttp
import pytest
import requests

from tests.live import chunks_rendered, free_port

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
#: where the rendered conf's own access log goes, in each nginx's folder
ACCESS_LOG = "kokoro-tts.access.log"

#: ~800 characters of plain English prose, seven sentences: four chunks, so that a proxy that held
#: the stream back until its end would show it (a first byte after more than one of them)
LONG_TEXT = (
    "The lighthouse keeper climbed the spiral stairs every evening, counting the steps as his "
    "father had taught him. There were one hundred and twelve of them, worn smooth in the middle "
    "by a century of boots. At the top he wound the clockwork, trimmed the wick, and polished the "
    "great lens until it caught the last of the sunset and threw it back across the water. Ships "
    "he would never meet depended on that light. Some nights the fog rolled in so thick that the "
    "beam seemed to stop a few yards from the glass, and he would sound the horn instead, once "
    "every thirty seconds, until dawn. He kept a logbook of everything: the weather, the passing "
    "vessels, the birds that struck the windows during migration. Years later, a historian found "
    "those books in a box at the harbour office and read them all in a single winter."
)


def render(upstream: str, listen_port: int, access_log: Path) -> str:
    """deploy/nginx.conf with its three marked lines pointed at `upstream`, `listen_port` and `access_log`."""
    text = CONF.read_text()
    text, upstreams = re.subn(r"server \S+;(\s*# upstream: rendered by the test)", rf"server {upstream};\1", text)
    text, listens = re.subn(
        r"listen \S+;(\s*# listen: rendered by the test)", rf"listen 127.0.0.1:{listen_port};\1", text
    )
    text, logs = re.subn(
        r"access_log \S+ (\w+;\s*# access log: rendered by the test)", rf"access_log {access_log} \1", text
    )
    assert (upstreams, listens, logs) == (1, 1, 1), "deploy/nginx.conf lost its marked upstream/listen/log lines"
    return text


@contextlib.contextmanager
def running_nginx(upstream: str, folder: Path) -> Iterator[str]:
    """Debian's nginx in the foreground with deploy/nginx.conf included in a minimal main config."""
    if not Path(NGINX).exists():
        pytest.fail("nginx is not installed: apt-get install -y nginx")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (folder / "kokoro-tts.conf").write_text(render(upstream, port, folder / ACCESS_LOG))
    # Run as root (as CI does), nginx's workers would switch to `nobody`, who cannot enter pytest's
    # private temporary folders; the main config here is the harness, not the file under test.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp_paths = "".join(
        f"    {kind}_temp_path {folder / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (folder / "main.conf").write_text(
        f"{user}worker_processes 1;\nerror_log {folder / 'error.log'} info;\npid {folder / 'nginx.pid'};\n"
        "events { worker_connections 256; }\n"
        f"http {{\n    access_log {folder / 'main-access.log'};\n{temp_paths}"
        f"    include {folder / 'kokoro-tts.conf'};\n}}\n"
    )
    command = [NGINX, "-p", str(folder), "-c", str(folder / "main.conf"), "-e", str(folder / "error.log")]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, f"nginx -t rejected the config:\n{check.stderr}"
    process = subprocess.Popen([*command, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"nginx did not start: {(folder / 'error.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


class Echo(BaseHTTPRequestHandler):
    """A stand-in upstream that answers every request with the path and headers it received."""

    seen: list[dict] = []
    #: path of a response sent in two parts, without X-Accel-Buffering, so that only the conf's own
    #: proxy_buffering decides whether the first part reaches the client before the second is sent:
    #: the second part waits until the client says it has the first (`first_part_received`)
    SLOW_STREAM = "/tts/slow-stream"
    first_part_received = threading.Event()
    #: for each slow stream, whether its client had the first part before the second was sent
    released_by_client: list[bool] = []

    def _answer(self) -> None:
        if self.path == self.SLOW_STREAM:
            self.send_response(200)
            self.send_header("Content-Type", "audio/wav")
            self.end_headers()  # HTTP/1.0 and no Content-Length: the body ends when the connection does
            self.wfile.write(b"first part")
            self.wfile.flush()
            Echo.released_by_client.append(Echo.first_part_received.wait(timeout=30))
            self.wfile.write(b"second part")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = {"method": self.command, "path": self.path, "headers": dict(self.headers), "body_bytes": len(body)}
        Echo.seen.append(record)
        payload = json.dumps(record).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def echo_folder(tmp_path_factory) -> Path:
    """The folder of the nginx in front of the stub: its config and logs."""
    return tmp_path_factory.mktemp("nginx-echo")


@pytest.fixture(scope="module")
def echo_proxy(echo_folder) -> Iterator[str]:
    stub = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=stub.serve_forever, daemon=True)
    thread.start()
    try:
        with running_nginx(f"127.0.0.1:{stub.server_address[1]}", echo_folder) as base:
            yield base
    finally:
        stub.shutdown()


@pytest.fixture(scope="module")
def proxy(server, tmp_path_factory) -> Iterator[str]:
    """nginx with deploy/nginx.conf in front of the live server."""
    upstream = server.removeprefix("http://")
    with running_nginx(upstream, tmp_path_factory.mktemp("nginx-live")) as base:
        yield base


# --- the conf's own behaviour, against the echoing stub -------------------------------------


def test_client_address_and_scheme_are_forwarded(echo_proxy):
    reply = requests.get(f"{echo_proxy}/tts/voices", headers={"X-Forwarded-For": "203.0.113.7"}, timeout=10)
    headers = {k.lower(): v for k, v in reply.json()["headers"].items()}
    assert headers["x-real-ip"] == "127.0.0.1"
    assert headers["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["host"] == echo_proxy.removeprefix("http://"), "the service compares Origin with Host: keep its port"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/tts/"),
        ("POST", "/tts"),
        ("GET", "/tts/voices"),
        ("GET", "/tts/health"),
        ("GET", "/tts/demo"),
        ("POST", "/tts/bytes"),
        ("POST", "/v1/audio/speech"),
        ("GET", "/v1/models"),
        ("GET", "/v1/audio/voices"),
        ("GET", "/livez"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/docs"),
        ("GET", "/docs.json"),
        ("GET", "/openapi.json"),
    ],
)
def test_service_routes_are_proxied(echo_proxy, method, path):
    reply = requests.request(method, f"{echo_proxy}{path}", timeout=10)
    assert reply.status_code == 200
    assert reply.json()["path"] == path


@pytest.mark.parametrize("path", ["/", "/admin", "/ttsfoo", "/metrics-extra"])
def test_other_paths_are_answered_by_nginx_as_json_404(echo_proxy, path):
    before = len(Echo.seen)
    reply = requests.get(f"{echo_proxy}{path}", timeout=10)
    assert reply.status_code == 404
    assert "no such route" in reply.json()["error"]
    assert len(Echo.seen) == before, "forwarded a path that is not the service's"


def test_the_access_log_holds_no_query_string(echo_proxy, echo_folder):
    """A browser's WebSocket sends the API key as ?api_key=: nginx's log must not keep it."""
    agent = "access-log-check/1"
    reply = requests.get(f"{echo_proxy}/tts/voices?api_key=s3cret-key&x=1", headers={"User-Agent": agent}, timeout=10)
    assert reply.status_code == 200 and reply.json()["path"] == "/tts/voices?api_key=s3cret-key&x=1"
    log = echo_folder / ACCESS_LOG
    deadline = time.monotonic() + 10  # nginx writes the line once the answer has left: wait for it
    while agent not in (text := log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    line = next(line for line in text.splitlines() if agent in line)
    assert '"GET /tts/voices HTTP/1.1" 200' in line
    assert "s3cret" not in text and "api_key" not in text


def test_streamed_responses_are_not_buffered_by_the_conf(echo_proxy):
    Echo.first_part_received.clear()
    received = b""
    with requests.get(f"{echo_proxy}{Echo.SLOW_STREAM}", stream=True, timeout=60) as reply:
        for piece in reply.iter_content(chunk_size=None):
            received += piece
            if received.startswith(b"first part"):
                Echo.first_part_received.set()
    assert received == b"first partsecond part"
    assert Echo.released_by_client[-1], "nginx held the first part back until the second was sent"


def test_body_size_is_bounded_with_a_json_413(echo_proxy):
    fits = requests.post(f"{echo_proxy}/tts/", data=b"x" * 100_000, timeout=10)
    assert fits.status_code == 200 and fits.json()["body_bytes"] == 100_000
    too_large = requests.post(f"{echo_proxy}/tts/", data=b"x" * 200_000, timeout=10)
    assert too_large.status_code == 413
    assert "too large" in too_large.json()["error"]


def test_unreachable_service_is_a_json_502(tmp_path):
    with running_nginx(f"127.0.0.1:{free_port()}", tmp_path / "nginx-down") as base:
        reply = requests.post(f"{base}/tts/", json={"text": "Hi", "voice": "af_heart"}, timeout=10)
    assert reply.status_code == 502
    assert "unavailable" in reply.json()["error"]


# --- the live service through nginx -----------------------------------------------------------


def test_json_response_through_nginx_is_identical_to_the_direct_one(server, proxy):
    request = {"text": "Through the proxy, 25 words stay 25 words.", "voice": "am_michael", "format": "wav"}
    direct = requests.post(f"{server}/tts/", json=request, timeout=300)
    proxied = requests.post(f"{proxy}/tts/", json=request, timeout=300)
    assert direct.status_code == proxied.status_code == 200, proxied.text
    assert proxied.headers["Content-Type"] == direct.headers["Content-Type"] == "application/json"
    # the synthesizer seeds each chunk's noise from its tokens, so equal requests give equal bytes
    assert proxied.content == direct.content
    print(f"\nJSON through nginx and direct: {len(direct.content)} bytes each, identical")


def test_streamed_audio_starts_through_nginx_long_before_it_ends(server, proxy):
    rendered_before = chunks_rendered(server)
    rendered_at_first_byte = None
    received = bytearray()
    with requests.post(
        f"{proxy}/tts/",
        json={"text": LONG_TEXT, "voice": "af_heart", "format": "wav", "include_timestamps": False},
        stream=True,
        timeout=600,
    ) as reply:
        assert reply.status_code == 200
        assert reply.headers["Content-Type"] == "audio/wav"
        for piece in reply.iter_content(chunk_size=None):
            if piece and rendered_at_first_byte is None:
                rendered_at_first_byte = chunks_rendered(server) - rendered_before
            received.extend(piece)
    rendered = chunks_rendered(server) - rendered_before
    audio_s = (len(received) - 44) / 2 / 24_000
    print(f"\nnginx streaming: first bytes after {rendered_at_first_byte} of {rendered} chunks")
    assert received[:4] == b"RIFF" and audio_s > 40 and rendered >= 4
    assert rendered_at_first_byte <= rendered / 4, "nginx held the stream back: is proxy_buffering off?"


@pytest.mark.parametrize(
    ("request_kwargs", "needle"),
    [
        ({"json": {"text": "Hi", "voice": "xx_unknown"}}, "not found"),
        ({"json": {"text": "Hi", "voice": "af_heart", "format": "ogg"}}, "'format'"),
        ({"data": "{bad json", "headers": {"Content-Type": "application/json"}}, "not valid JSON"),
        ({"json": {"voice": "af_heart"}}, "'text' is required"),
    ],
)
def test_service_errors_pass_through_nginx_as_json_400(server, proxy, request_kwargs, needle):
    direct = requests.post(f"{server}/tts/", timeout=60, **request_kwargs)
    proxied = requests.post(f"{proxy}/tts/", timeout=60, **request_kwargs)
    assert proxied.status_code == direct.status_code == 400
    assert proxied.headers["Content-Type"] == "application/json"
    assert proxied.json() == direct.json()
    assert needle in proxied.json()["error"]


def test_openai_routes_through_nginx_answer_as_directly(server, proxy):
    models = [requests.get(f"{base}/v1/models", timeout=30) for base in (server, proxy)]
    assert models[0].status_code == models[1].status_code == 200
    assert models[1].json() == models[0].json() and models[1].json()["data"]
    speech = {"model": "tts-1", "input": "Through the proxy.", "voice": "alloy", "response_format": "wav"}
    direct, proxied = (requests.post(f"{base}/v1/audio/speech", json=speech, timeout=300) for base in (server, proxy))
    assert direct.status_code == proxied.status_code == 200, proxied.text
    assert proxied.headers["Content-Type"] == direct.headers["Content-Type"] == "audio/wav"
    assert proxied.content == direct.content and proxied.content[:4] == b"RIFF"
    unknown = requests.get(f"{proxy}/v1/nothing", timeout=30)
    assert unknown.status_code == 404 and "no route /v1/nothing" in unknown.json()["error"]["message"]


def test_probes_metrics_and_docs_pass_through_nginx(proxy):
    for path in ("/livez", "/readyz", "/tts/health", "/tts/voices", "/tts/", "/tts", "/docs.json", "/openapi.json"):
        assert requests.get(f"{proxy}{path}", timeout=30).status_code == 200, path
    metrics = requests.get(f"{proxy}/metrics", timeout=30)
    assert metrics.status_code == 200
    assert "tts_requests_in_flight" in metrics.text
    assert requests.get(f"{proxy}/docs.json", timeout=30).json()["info"]["title"]


def test_through_nginx_the_server_tells_its_own_pages_from_others(proxy):
    """The service compares a page's Origin with Host: nginx must pass Host with its port."""
    own = requests.get(f"{proxy}/tts/voices", headers={"Origin": proxy}, timeout=30)
    assert own.status_code == 200, own.text
    other = requests.get(f"{proxy}/tts/voices", headers={"Origin": "http://192.168.1.50:8000"}, timeout=30)
    assert other.status_code == 403 and "cross-origin" in other.json()["error"]


def test_an_agent_socket_speaks_through_nginx(proxy):
    """The WebSocket upgrade passes the proxy: a context's audio and its done come back."""

    async def one_context() -> list[dict]:
        message = {"context_id": "c", "transcript": "Through the proxy.", "continue": False,
                   "voice": {"mode": "id", "id": "af_heart"}, "add_timestamps": True}  # fmt: skip
        url = proxy.replace("http", "ws", 1) + "/tts/websocket"
        # as the demo page's browser would open it: Origin is the proxy's, which the server must see as its own
        async with aiohttp.ClientSession() as http, http.ws_connect(url, origin=proxy) as ws:
            await ws.send_str(json.dumps(message))
            answers = []
            async for reply in ws:
                answers.append(json.loads(reply.data))
                if answers[-1]["type"] in ("done", "error"):
                    return answers
        return answers

    answers = asyncio.run(asyncio.wait_for(one_context(), 120))
    assert answers[-1]["type"] == "done"
    assert any(a["type"] == "chunk" for a in answers) and any(a["type"] == "timestamps" for a in answers)
