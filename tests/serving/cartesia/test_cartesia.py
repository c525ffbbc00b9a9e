"""/tts/websocket in-process: Cartesia's protocol, contexts, buffering, cancel, sample rates, keys.

The fake synthesizer renders silence of the right length, so these tests check the protocol and
the timing arithmetic; tests/server/test_agent_clients.py drives real clients at a live server."""

import asyncio
import base64
import dataclasses
import logging

import pytest

from engine.timing import WordTiming
from schemas import TTSRequest
from serving.cartesia import agent_socket, context
from serving.cartesia.messages import BYTES_PATH, PATH
from serving.cartesia.words import cartesia_words
from serving.core.config import ServingSettings, SocketLimits
from serving.core.errors import POLICY_VIOLATION, NotReady
from serving.core.metrics import RESPONSES, STREAMS_FAILED

from ..conftest import FRAMES_PER_TOKEN, SocketClient, eventually, serve_until_done

pytestmark = [pytest.mark.http, pytest.mark.anyio]


def say(context_id: str, transcript: str, more: bool = True, **fields: object) -> dict:
    """A message as pipecat's CartesiaTTSService writes it (unknown fields included)."""
    return {
        "transcript": transcript,
        "continue": more,
        "context_id": context_id,
        "model_id": "sonic-2",
        "voice": {"mode": "id", "id": "af_heart"},
        "output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 24000},
        "add_timestamps": True,
        "use_normalized_timestamps": False,
        "language": "en",
        **fields,
    }


def audio_bytes(messages: list[dict]) -> bytes:
    return b"".join(base64.b64decode(m["data"]) for m in messages if m["type"] == "chunk")


def timed_words(messages: list[dict]) -> list[tuple[str, float, float]]:
    found = []
    for message in messages:
        if message["type"] == "timestamps":
            stamps = message["word_timestamps"]
            found.extend(zip(stamps["words"], stamps["start"], stamps["end"], strict=True))
    return found


def check_messages(messages: list[dict]) -> None:
    """What both clients rely on: every message carries type, context_id, done and status_code;
    only the types they know; no data on anything but chunks."""
    for message in messages:
        assert {"type", "context_id", "done", "status_code"} <= message.keys(), message
        assert message["type"] in ("chunk", "timestamps", "done", "error", "flush_done")
        assert message["type"] == "chunk" or "data" not in message


async def test_a_turn_sent_sentence_by_sentence_is_spoken_in_order_with_its_words_timed(make_server):
    served = make_server()
    sentences = ["Hello there, pier.", "A second sentence follows!", "And the last one?"]
    async with SocketClient(served.app, PATH) as socket:
        for sentence in sentences:
            await socket.send(say("turn-1", sentence, max_buffer_delay_ms=0))
        await socket.send(say("turn-1", "", more=False))
        messages = await socket.until_end("turn-1")
    check_messages(messages)
    assert messages[-1] == {"type": "done", "context_id": "turn-1", "status_code": 200, "done": True}
    words = timed_words(messages)
    assert [w for w, _, _ in words] == " ".join(sentences).split()
    duration = len(audio_bytes(messages)) / 2 / 24000
    starts = [start for _, start, _ in words]
    assert starts == sorted(starts) and all(0 <= s <= e <= duration + 1e-3 for _, s, e in words)
    assert served.fake.rendered == 3  # one chunk per message: "pier." is never glued to "A"


async def test_tokens_are_gathered_and_each_sentence_starts_once_it_is_complete(make_server):
    served = make_server(held=True)
    first, second = "Tokens arrive one by one.", " Then another sentence"
    async with SocketClient(served.app, PATH) as socket:
        for token in ["Tokens", " arrive", " one", " by", " one", ".", " Then"]:
            await socket.send(say("t", token))
        call = await served.fake.next_call()  # the first sentence went to the model, the turn still open
        assert served.fake.started == 1
        call.release()
        for token in [" another", " sentence"]:
            await socket.send(say("t", token))
        await socket.send(say("t", "", more=False))
        done = asyncio.ensure_future(socket.until_end("t"))
        await serve_until_done(served.fake, done)
        messages = done.result()
    check_messages(messages)
    assert [w for w, _, _ in timed_words(messages)] == (first + second).split()
    assert messages[-1]["type"] == "done"


async def test_text_that_stops_at_a_mark_is_spoken_without_waiting_for_the_end(make_server):
    served = make_server(held=True)
    async with SocketClient(served.app, PATH) as socket:
        await socket.send(say("t", "A sentence with no follower."))
        call = await served.fake.next_call()  # spoken after the short pause, the context still open
        call.release()
        await socket.send(say("t", " ", more=False))  # LiveKit's end of input
        done = asyncio.ensure_future(socket.until_end("t"))
        await serve_until_done(served.fake, done)
    assert done.result()[-1]["type"] == "done"


async def test_two_contexts_on_one_socket_both_complete_never_mixed(make_server):
    served = make_server(held=True)
    texts = {"a": "The first context speaks here.", "b": "Meanwhile the second one talks."}
    by_context: dict[str, list[dict]] = {}
    async with SocketClient(served.app, PATH) as socket:

        async def read_both() -> None:
            ended: set[str] = set()
            while ended != texts.keys():
                message = await socket.receive()
                by_context.setdefault(message["context_id"], []).append(message)
                if message["type"] in ("done", "error"):
                    ended.add(message["context_id"])

        await socket.send(say("a", texts["a"], max_buffer_delay_ms=0))
        first = await served.fake.next_call()  # "a" is inside the model while "b" starts
        await socket.send(say("b", texts["b"], max_buffer_delay_ms=0))
        await socket.send(say("a", "", more=False))
        await socket.send(say("b", "", more=False))
        reading = asyncio.ensure_future(read_both())
        first.release()
        await serve_until_done(served.fake, reading)
    for context_id, messages in by_context.items():
        check_messages(messages)
        assert messages[-1]["type"] == "done"
        assert [w for w, _, _ in timed_words(messages)] == texts[context_id].split()
        assert all(m["context_id"] == context_id for m in messages)


async def test_cancel_stops_the_context_within_one_chunk_and_the_socket_serves_on(make_server):
    served = make_server(held=True)
    long_text = " ".join(["This sentence is one of many in a long answer."] * 12)
    async with SocketClient(served.app, PATH) as socket:
        await socket.send(say("talk", long_text, max_buffer_delay_ms=0))
        call = await served.fake.next_call()
        call.release()
        await socket.receive()  # the first chunk's audio left
        inside = await served.fake.next_call()  # the next chunk is inside the model
        await socket.send({"context_id": "talk", "cancel": True})
        await eventually(lambda: served.server.admission.requests == 0)
        started = served.fake.started
        inside.release()  # the model finishes what it had, for no one
        next_turn = "A new turn after the interruption."
        await socket.send(say("next", next_turn, more=False))
        others: dict[str, list[dict]] = {}
        done = asyncio.ensure_future(socket.until_end("next", others))
        await serve_until_done(served.fake, done)
    assert done.result()[-1]["type"] == "done"
    # the cancelled context asked for nothing more: the new turn's one sentence, in its two windows
    (sentence,) = served.server.planner.chunks(next_turn, "a")
    assert (len(sentence.token_ids) + 2) * FRAMES_PER_TOKEN > served.server.planner.first_window_frames
    assert served.fake.started == started + 2
    assert all(m["type"] != "done" for m in others.get("talk", []))


async def test_the_socket_closing_stops_every_context(make_server):
    served = make_server(held=True)
    async with SocketClient(served.app, PATH) as socket:
        await socket.send(say("x", "Some words to say now.", max_buffer_delay_ms=0))
        await served.fake.next_call()
    await eventually(lambda: served.server.admission.requests == 0)
    assert served.fake.started == 1 and served.fake.rendered == 0


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
async def test_other_sample_rates_keep_the_length_and_the_timestamps(make_server, rate):
    served = make_server()
    text = "Telephony agents ask for narrow band audio. It must keep its length."
    lengths = {}
    stamps = {}
    async with SocketClient(served.app, PATH) as socket:
        for sample_rate in (24000, rate):
            output = {"container": "raw", "encoding": "pcm_s16le", "sample_rate": sample_rate}
            await socket.send(say(str(sample_rate), text, more=False, output_format=output))
            messages = await socket.until_end(str(sample_rate))
            lengths[sample_rate] = len(audio_bytes(messages)) / 2 / sample_rate
            stamps[sample_rate] = timed_words(messages)
    assert lengths[rate] == pytest.approx(lengths[24000], abs=2 / rate)
    assert stamps[rate] == stamps[24000]


async def test_float_pcm_is_four_bytes_a_sample(make_server):
    served = make_server()
    output = {"container": "raw", "encoding": "pcm_f32le", "sample_rate": 24000}
    async with SocketClient(served.app, PATH) as socket:
        await socket.send(say("s", "Short one.", more=False, output_format=output, add_timestamps=False))
        messages = await socket.until_end("s")
        await socket.send(say("i", "Short one.", more=False, add_timestamps=False))
        ints = await socket.until_end("i")
    assert len(audio_bytes(messages)) == 2 * len(audio_bytes(ints))
    assert not timed_words(messages)


@pytest.mark.parametrize("closing", ["", " "])
async def test_an_empty_closing_message_ends_the_context_without_an_error(make_server, closing):
    served = make_server()
    async with SocketClient(served.app, PATH) as socket:
        await socket.send(say("c", "Words first.", max_buffer_delay_ms=0))
        await socket.send(say("c", closing, more=False))
        messages = await socket.until_end("c")
        await socket.send(say("only-end", closing, more=False))
        nothing = await socket.until_end("only-end")
    assert [m["type"] for m in messages][-1] == "done"
    assert nothing == [{"type": "done", "context_id": "only-end", "status_code": 200, "done": True}]


@pytest.mark.parametrize(
    ("message", "status", "says"),
    [
        ({**say("v", "Hi.", more=False), "voice": {"mode": "id", "id": "no_such_voice"}}, 400, "no_such_voice"),
        ({**say("r", "Hi.", more=False), "output_format": {"container": "raw", "sample_rate": 11025}}, 400, "11025"),
        ({**say("g", "Hi.", more=False), "generation_config": {"speed": 9}}, 400, "speed"),
        ({"context_id": "m", "transcript": "No voice."}, 400, "voice"),
    ],
)
async def test_a_bad_message_is_an_error_that_names_its_context(make_server, message, status, says):
    served = make_server()
    async with SocketClient(served.app, PATH) as socket:
        await socket.send(message)
        (error,) = await socket.until_end(message["context_id"])
    check_messages([error])
    assert (error["type"], error["status_code"], error["done"]) == ("error", status, True)
    assert says in error["error"]


async def test_a_message_that_is_not_json_is_an_error_with_an_empty_context(make_server):
    served = make_server()
    async with SocketClient(served.app, PATH) as socket:
        await socket.send_text("{not json")
        error = await socket.receive()
    assert (error["type"], error["context_id"], error["status_code"]) == ("error", "", 400)


async def test_flush_speaks_what_came_and_answers_flush_done(make_server):
    served = make_server()
    async with SocketClient(served.app, PATH) as socket:
        await socket.send(say("f", "Half a sent"))
        await socket.send(say("f", "ence", flush=True))
        flushed = []
        while not flushed or flushed[-1]["type"] != "flush_done":
            flushed.append(await socket.receive())
        await socket.send(say("f", "", more=False))
        rest = await socket.until_end("f")
    assert [w for w, _, _ in timed_words(flushed)] == ["Half", "a", "sentence"]
    assert flushed[-1]["flush_id"] == 1 and rest[-1]["type"] == "done"


async def test_a_context_left_without_text_ends_with_an_error(make_server, monkeypatch):
    monkeypatch.setattr(context, "CONTEXT_IDLE_S", 0.05)
    served = make_server()
    async with SocketClient(served.app, PATH) as socket:
        await socket.send(say("idle", "Said, then nothing more.", max_buffer_delay_ms=0))
        messages = await socket.until_end("idle")
    assert messages[-1]["type"] == "error" and messages[-1]["status_code"] == 408
    assert timed_words(messages)


async def test_each_message_stays_under_a_mebibyte(make_server):
    served = make_server()
    text = " ".join(["A long sentence that fills the chunk up to its limit of phonemes"] * 8)
    output = {"container": "raw", "encoding": "pcm_f32le", "sample_rate": 48000}
    async with SocketClient(served.app, PATH) as socket:
        await socket.send(say("big", text, more=False, output_format=output))
        messages = await socket.until_end("big")
    assert messages[-1]["type"] == "done"
    sizes = [len(base64.b64decode(m["data"])) for m in messages if m["type"] == "chunk"]
    assert max(sizes) <= context.MAX_MESSAGE_AUDIO_BYTES < 1024 * 1024 * 3 // 4


@pytest.mark.parametrize(
    ("headers", "query", "opens"),
    [({}, "", False), ({"X-API-Key": "wrong"}, "", False), ({"X-API-Key": "s3cret"}, "", True),
     ({}, "api_key=s3cret", True), ({"Authorization": "Bearer s3cret"}, "", True)],
)  # fmt: skip
async def test_with_a_key_set_the_socket_opens_only_with_it(make_server, headers, query, opens):
    served = make_server(settings=ServingSettings(api_key="s3cret"))
    async with SocketClient(served.app, PATH, headers, query) as socket:
        assert (socket.closed is None) == opens
        if not opens:
            assert socket.closed["code"] == POLICY_VIOLATION


async def test_the_sentences_go_through_admission_and_a_full_server_says_429(make_server):
    served = make_server(held=True, max_requests=1, max_queued=0)
    async with SocketClient(served.app, PATH) as socket:
        await socket.send(say("one", "The first context holds the only place.", max_buffer_delay_ms=0))
        call = await served.fake.next_call()
        await socket.send(say("two", "The second finds no room.", max_buffer_delay_ms=0))
        others: dict[str, list[dict]] = {}
        refused = await socket.until_end("two", others)
        call.release()
    assert refused[-1]["type"] == "error" and refused[-1]["status_code"] == 429


def bytes_body(rate: int = 24000, container: str = "raw", **fields: object) -> dict:
    """POST /tts/bytes as LiveKit's cartesia.TTS.synthesize sends it."""
    output = {"container": container, "encoding": "pcm_s16le", "sample_rate": rate}
    voice = {"mode": "id", "id": "af_heart"}
    return {"model_id": "sonic-3", "transcript": "Bytes for a whole sentence.", "voice": voice,
            "output_format": output, "language": "en", **fields}  # fmt: skip


@pytest.mark.parametrize("rate", [8000, 16000, 44100])
async def test_the_bytes_route_answers_raw_pcm_at_the_rate_asked(client, rate):
    wide = await client.post(BYTES_PATH, json=bytes_body())
    narrow = await client.post(BYTES_PATH, json=bytes_body(rate))
    assert wide.status_code == narrow.status_code == 200
    assert len(narrow.content) / 2 / rate == pytest.approx(len(wide.content) / 2 / 24000, abs=2 / rate)


async def test_the_bytes_route_answers_a_wav_file_and_refuses_one_at_another_rate(client):
    wav = await client.post(BYTES_PATH, json=bytes_body(container="wav"))
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF"
    refused = await client.post(BYTES_PATH, json=bytes_body(16000, "mp3"))
    assert refused.status_code == 400 and "raw" in refused.json()["error"]


async def test_the_bytes_route_refuses_a_long_or_non_ascii_voice_by_its_field(client):
    for voice in ("af_heart" * 30, "af_heart(\u0662)"):
        refused = await client.post(BYTES_PATH, json=bytes_body(voice={"mode": "id", "id": voice}))
        assert refused.status_code == 400 and "'voice.id'" in refused.json()["error"]


async def test_with_a_key_set_cartesias_header_carries_it(make_server):
    client = make_server(settings=ServingSettings(api_key="s3cret")).client
    assert (await client.post(BYTES_PATH, json=bytes_body())).status_code == 401
    answer = await client.post(BYTES_PATH, json=bytes_body(), headers={"X-API-Key": "s3cret"})
    assert answer.status_code == 200


def timing(word: str, start: float, whitespace: str = " ") -> WordTiming:
    return WordTiming(word, start, start + 0.1, "", whitespace)


def test_words_are_the_texts_own_between_spaces_with_their_marks():
    """'arrived? "We should' is three words: the opening quote belongs to the word after it."""
    tokens = [timing("arrived", 0.0, ""), timing("?", 0.1), timing('"', 0.2, ""), timing("We", 0.3),
              timing("should", 0.4, "")]  # fmt: skip
    stamps = cartesia_words(tokens, spaced=True)
    assert stamps.words == ["arrived?", '"We', "should"]
    assert (stamps.start, stamps.end) == ([0.0, 0.2, 0.4], [0.2, 0.4, 0.5])


def test_in_japanese_and_chinese_each_token_is_a_word_and_a_mark_joins_the_one_before():
    tokens = [timing("我", 0.0, ""), timing("有", 0.1, ""), timing("。", 0.2, ""), timing("好", 0.3, "")]
    assert cartesia_words(tokens, spaced=False).words == ["我", "有。", "好"]


async def test_text_that_came_while_a_sentence_was_spoken_is_gathered_first_and_no_mark_is_lost(make_server):
    """The opening quote after a sentence waits for its word, even once the buffer delay is over."""
    served = make_server(held=True)
    text = 'The train leaves at six. "We should go," she said.'
    async with SocketClient(served.app, PATH) as socket:
        for token in ["The", " train", " leaves", " at", " six", ".", ' "']:
            await socket.send(say("q", token, max_buffer_delay_ms=1))
        call = await served.fake.next_call()  # the first sentence is spoken while the rest comes
        for token in ["We", " should", " go", ",", '"', " she", " said", "."]:
            await socket.send(say("q", token, max_buffer_delay_ms=1))
        await socket.send(say("q", "", more=False))
        call.release()
        done = asyncio.ensure_future(socket.until_end("q"))
        await serve_until_done(served.fake, done)
    assert [w for w, _, _ in timed_words(done.result())] == text.split()


def limited(**limits: object) -> ServingSettings:
    return ServingSettings(socket=dataclasses.replace(SocketLimits(), **limits))


async def test_past_the_contexts_a_socket_may_hold_a_new_one_is_refused_and_the_others_serve_on(make_server):
    served = make_server(settings=limited(max_contexts=2))
    async with SocketClient(served.app, PATH) as socket:
        for context_id in ("a", "b"):
            await socket.send(say(context_id, "Open.", max_buffer_delay_ms=0))
        await socket.send(say("c", "One too many."))
        others: dict[str, list[dict]] = {}
        (refused,) = await socket.until_end("c", others)
        assert (refused["type"], refused["status_code"]) == ("error", 429) and "TTS_WS_MAX_CONTEXTS" in refused["error"]
        await socket.send(say("a", "", more=False))
        await socket.until_end("a", others)
        await socket.send(say("c", "Now there is room.", more=False))
        assert (await socket.until_end("c", others))[-1]["type"] == "done"
        await socket.send(say("b", "", more=False))
        assert (await socket.until_end("b", others))[-1]["type"] == "done"


async def test_a_message_over_the_size_limit_is_refused_and_the_socket_serves_on(make_server):
    served = make_server(settings=limited(max_message_bytes=1024))
    async with SocketClient(served.app, PATH) as socket:
        await socket.send(say("big", "word " * 300, more=False))
        refused = await socket.receive()
        await socket.send(say("small", "Small enough.", more=False))
        messages = await socket.until_end("small")
    assert (refused["type"], refused["context_id"], refused["status_code"]) == ("error", "", 413)
    assert "TTS_WS_MAX_MESSAGE_BYTES" in refused["error"] and messages[-1]["type"] == "done"


async def test_a_flood_of_messages_closes_the_socket_with_a_reason(make_server):
    served = make_server(settings=limited(max_messages_s=3))
    async with SocketClient(served.app, PATH) as socket:
        for _ in range(10):  # a second's allowance is 3: nothing refills it that fast
            await socket.send({"context_id": "nothing", "cancel": True})
        messages, closed = await socket.until_closed()
    assert closed["code"] == POLICY_VIOLATION and "TTS_WS_MAX_MESSAGES_S" in closed["reason"]
    assert messages[-1]["type"] == "error" and messages[-1]["status_code"] == 429


async def test_a_socket_left_idle_is_closed_with_a_reason(make_server):
    served = make_server(settings=limited(idle_s=0.05))
    async with SocketClient(served.app, PATH) as socket:
        await socket.send(say("t", "Said once.", more=False))
        messages, closed = await socket.until_closed()
    assert [m["type"] for m in messages][-2:] == ["done", "error"] and messages[-1]["status_code"] == 408
    assert closed["code"] == agent_socket.NORMAL_CLOSURE and "TTS_WS_IDLE_S" in closed["reason"]


@pytest.mark.parametrize(
    "frame",
    [b'{"context_id": "x"}', "[" * 30_000 + "]" * 30_000, "[1, 2]", '"text"', "12" * 3000,
     '{"context_id": 7, "transcript": "Hi.", "voice": {"id": "af_heart"}}',
     '{"context_id": "w", "transcript": ["Hi."], "voice": {"id": "af_heart"}}',
     '{"context_id": "w", "transcript": "Hi.", "voice": "af_heart", "continue": "maybe"}',
     '{"context_id": {"a": 1}, "cancel": "yes"}', '{"context_id": "' + "i" * 300 + '", "transcript": "Hi."}'],
)  # fmt: skip
async def test_a_malformed_frame_is_an_error_and_the_contexts_on_the_socket_serve_on(make_server, frame):
    served = make_server(held=True)
    async with SocketClient(served.app, PATH) as socket:
        await socket.send(say("live", "A context that is speaking.", max_buffer_delay_ms=0))
        call = await served.fake.next_call()
        if isinstance(frame, bytes):
            await socket.send_bytes(frame)
        else:
            await socket.send_text(frame)
        error = await socket.receive()
        call.release()
        await socket.send(say("live", "", more=False))
        done = asyncio.ensure_future(socket.until_end("live"))
        await serve_until_done(served.fake, done)
    assert (error["type"], error["status_code"]) == ("error", 400) and error["context_id"] in ("", "w")
    assert len(error["error"]) < 1_000 and done.result()[-1]["type"] == "done"


async def test_text_gathered_past_the_limit_is_spoken_in_parts_before_the_turn_ends(make_server):
    served = make_server(held=True, settings=limited(max_gather_chars=100))
    runs: list[str] = []
    rendering = served.server.rendering

    def recorded(request: TTSRequest, *args: object) -> object:
        runs.append(request.text)
        return rendering(request, *args)

    served.server.rendering = recorded
    words = [f"word{n}" for n in range(60)]  # one run-on clause of 400 characters, no mark at all
    async with SocketClient(served.app, PATH) as socket:
        for word in words:
            await socket.send(say("run-on", word + " ", max_buffer_delay_ms=5000))
        call = await served.fake.next_call()  # a part went to the model while the turn is open
        assert len(runs) == 1 and len(runs[0]) <= 100
        call.release()
        await socket.send(say("run-on", "", more=False))
        done = asyncio.ensure_future(socket.until_end("run-on"))
        await serve_until_done(served.fake, done)
    messages = done.result()
    assert messages[-1]["type"] == "done"
    assert [w for w, _, _ in timed_words(messages)] == words
    assert len(runs) >= 4 and max(len(run) for run in runs) <= 100


async def test_text_waiting_past_one_requests_length_ends_its_context_and_the_socket_serves_on(make_server):
    served = make_server(held=True)
    most = served.server.planner.max_text_chars
    async with SocketClient(served.app, PATH) as socket:
        await socket.send(say("long", "The first sentence is spoken now.", max_buffer_delay_ms=0))
        inside = await served.fake.next_call()  # held: the text after it waits, and is cancelled with it
        for _ in range(most // 4_000 + 1):
            await socket.send(say("long", "word " * 800))
        others: dict[str, list[dict]] = {}
        refused = await socket.until_end("long", others)
        inside.release()  # the model finishes what it had, for no one
        await socket.send(say("next", "Another turn.", more=False))
        done = asyncio.ensure_future(socket.until_end("next", others))
        await serve_until_done(served.fake, done)
    assert (refused[-1]["type"], refused[-1]["status_code"]) == ("error", 413)
    assert done.result()[-1]["type"] == "done"


@pytest.fixture
def retry_waits(monkeypatch) -> list[float]:
    """The waits before each retry of a refused run, recorded instead of waited."""
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(context, "wait_before_retry", no_wait)
    return waits


async def test_a_sentence_refused_for_a_moment_is_asked_for_again_and_the_turn_goes_on(make_server, retry_waits):
    served = make_server()
    sentences = ["The first sentence is heard.", "The second one is refused once."]
    (first,) = served.server.planner.chunks(sentences[0], "a")
    # the turn's first sentence is asked for in two windows
    assert (len(first.token_ids) + 2) * FRAMES_PER_TOKEN > served.server.planner.first_window_frames
    served.fake.failures = {3: NotReady("the synthesizer is overloaded", 5.0)}  # the second sentence's call
    async with SocketClient(served.app, PATH) as socket:
        for sentence in sentences:
            await socket.send(say("turn", sentence, max_buffer_delay_ms=0))
        await socket.send(say("turn", "", more=False))
        messages = await socket.until_end("turn")
    assert messages[-1]["type"] == "done"
    assert [w for w, _, _ in timed_words(messages)] == " ".join(sentences).split()
    assert retry_waits == [5.0]  # the Retry-After it was given


async def test_a_refusal_that_lasts_ends_the_turn_after_a_bounded_number_of_tries(make_server, retry_waits):
    served = make_server()
    served.fake.failure = NotReady("the synthesizer is overloaded", 1.0)
    async with SocketClient(served.app, PATH) as socket:
        await socket.send(say("turn", "Never heard.", more=False))
        messages = await socket.until_end("turn")
    assert (messages[-1]["type"], messages[-1]["status_code"]) == ("error", 503)
    waits = retry_waits
    assert len(waits) == context.RETRIES and waits == sorted(waits) and waits[-1] > 1.0  # backing off


async def test_a_client_gone_before_its_audio_ends_the_context_quietly(make_server, caplog):
    served = make_server(held=True)
    failed_before = STREAMS_FAILED.labels("websocket")._value.get()
    left_before = RESPONSES.labels(PATH, "499")._value.get()
    async with SocketClient(served.app, PATH) as socket:
        await socket.send(say("gone", "Audio nobody will hear.", max_buffer_delay_ms=0))
        call = await served.fake.next_call()
        socket.gone = True
        call.release()
        await eventually(lambda: RESPONSES.labels(PATH, "499")._value.get() == left_before + 1)
    assert STREAMS_FAILED.labels("websocket")._value.get() == failed_before
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
