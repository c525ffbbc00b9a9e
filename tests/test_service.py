"""service.py's wiring that reaches into BentoML: checked against the BentoML installed."""

import asyncio

import pytest
import uvicorn
from _bentoml_impl.client.proxy2 import AsyncClient

from service import CLIENT_KEEPALIVE_S, idle_connections_expire_first

pytestmark = pytest.mark.unit


def test_pooled_connections_are_let_go_before_the_synthesizer_closes_them():
    async def keepalive_of_a_new_session() -> float:
        client = AsyncClient("http://127.0.0.1:9", server_ready_timeout=0)
        idle_connections_expire_first(client)
        session = await client._session_manager.get_session()
        try:
            return session.connector._keepalive_timeout
        finally:
            await session.close()

    assert asyncio.run(keepalive_of_a_new_session()) == CLIENT_KEEPALIVE_S
    # the synthesizer's server: BentoML starts uvicorn with its default keep-alive
    assert uvicorn.Config(app=None).timeout_keep_alive > CLIENT_KEEPALIVE_S


def test_uvicorn_reads_no_websocket_message_far_over_the_limit():
    """BentoML builds uvicorn's Config without ws_max_size: service.py sets its default."""
    from service import MESSAGE_READ_MARGIN, SETTINGS

    assert uvicorn.Config(app=None).ws_max_size == MESSAGE_READ_MARGIN * SETTINGS.serving.socket.max_message_bytes
