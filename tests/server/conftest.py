"""A live `./serve.sh` (the README's start command) with the real weights, on port 8123 when free."""

from collections.abc import Iterator

import pytest

from benchmarks.live_server import ServerFailed, free_port, live_server

PREFERRED_PORT = 8123


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("server") / "serve.log"
    try:
        with live_server(free_port(PREFERRED_PORT), log) as base:
            yield base
    except ServerFailed as exc:
        pytest.fail(str(exc))
