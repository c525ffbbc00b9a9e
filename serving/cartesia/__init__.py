"""Cartesia's TTS protocol: its WebSocket on /tts/websocket and its bytes route on POST
/tts/bytes, so that voice-agent frameworks' Cartesia clients (pipecat's CartesiaTTSService and
CartesiaHttpTTSService, LiveKit's cartesia.TTS) speak through this server as they are.

One socket carries many contexts (an agent's turns), routed by `context_id`. A context's text
arrives in pieces, as whole sentences or as an LLM's tokens (serving.cartesia.gather hands out each
sentence once it is complete), and each run of sentences is spoken through the same lifecycle as
an HTTP request: validation, readiness, admission, the fair lanes, metrics. Its audio leaves as
raw PCM at the rate asked, each chunk followed by its words' timestamps (seconds from the
context's first sample, in the words the client sent); `done` follows the last audio of a context
the client ended. A `cancel`, or the socket closing, stops a context's work at once: the chunk
inside the model is the most it costs.
"""
