"""POST /tts/'s `captions`: an SRT or WebVTT file of the speech in the JSON answer, its cues made of
the answer's own word timestamps; a 400 naming the field where no JSON answer would carry it."""

import pytest
import srt
import webvtt

from schemas import TTSResponse

pytestmark = [pytest.mark.http, pytest.mark.anyio]

SPEAK = {
    "text": "It was a dark and stormy night. The rain fell in torrents, except at occasional intervals, "
    "when it was checked by a violent gust of wind.",
    "voice": "af_heart",
}


def spoken(words: list[str]) -> str:
    return "".join("".join(words).split())


async def test_srt_captions_hold_every_word_timed_as_the_timestamps(client):
    reply = await client.post("/tts/", json={**SPEAK, "captions": "srt"})
    assert reply.status_code == 200, reply.text
    body = TTSResponse.model_validate(reply.json())
    cues = list(srt.parse(body.captions))
    assert len(cues) > 1
    assert spoken([cue.content for cue in cues]) == spoken([word.word for word in body.word_timestamps])
    assert cues[0].start.total_seconds() == pytest.approx(body.word_timestamps[0].start_time, abs=0.001)
    assert cues[-1].end.total_seconds() <= body.total_duration
    assert all(len(line) <= 42 for cue in cues for line in cue.content.split("\n"))


async def test_vtt_captions_from_a_form_body(client):
    reply = await client.post("/tts/", data={**SPEAK, "captions": "vtt"})
    assert reply.status_code == 200, reply.text
    body = TTSResponse.model_validate(reply.json())
    assert body.captions.startswith("WEBVTT")
    captions = webvtt.from_string(body.captions).captions
    assert spoken([caption.text for caption in captions]) == spoken([word.word for word in body.word_timestamps])


async def test_an_answer_without_captions_has_no_captions_field(client):
    reply = await client.post("/tts/", json=SPEAK)
    assert reply.status_code == 200
    assert "captions" not in reply.json()


@pytest.mark.parametrize("form", [False, True])
async def test_captions_without_the_json_answer_are_a_400_naming_the_field(client, form):
    fields = {**SPEAK, "captions": "srt", "include_timestamps": "false" if form else False}
    reply = await (client.post("/tts/", data=fields) if form else client.post("/tts/", json=fields))
    assert reply.status_code == 400
    assert "'captions'" in reply.json()["error"] and "include_timestamps" in reply.json()["error"]


async def test_an_unknown_caption_format_is_a_400_naming_the_field(client):
    reply = await client.post("/tts/", json={**SPEAK, "captions": "ass"})
    assert reply.status_code == 400
    assert "'captions'" in reply.json()["error"] and "'srt' or 'vtt'" in reply.json()["error"]


async def test_the_ndjson_stream_refuses_captions(client):
    reply = await client.post("/tts/stream", json={**SPEAK, "captions": "vtt"})
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("'captions'")
