"""The live server for the deployment tests: `./serve.sh` with the real weights, as tests/server starts it.

Package-scoped rather than imported from tests/server/conftest.py: pytest keys a fixture by the
conftest that defines it, so an imported session fixture would start a second server that stays
up, idle, beside tests/server's until the whole run ends (~5 GB of memory). This one stops when
tests/deploy is done.
"""

from collections.abc import Iterator

import pytest

from tests.live import serve_for_tests


@pytest.fixture(scope="package")
def server(tmp_path_factory) -> Iterator[str]:
    yield from serve_for_tests(tmp_path_factory)
