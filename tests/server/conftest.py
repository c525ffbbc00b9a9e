"""A live `./serve.sh` (the README's start command) with the real weights, on port 8123 when free."""

from collections.abc import Iterator

import pytest

from tests.live import serve_for_tests

PREFERRED_PORT = 8123


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[str]:
    yield from serve_for_tests(tmp_path_factory, PREFERRED_PORT)
