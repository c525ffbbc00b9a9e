"""The HTTP contract against the live server: errors, headers, health, streaming latency."""

import base64
import io
import re
import threading
import time

import pytest
import requests
import soundfile

from tests.live import chunks_rendered

pytestmark = pytest.mark.server


def post(server: str, **kwargs) -> requests.Response:
    return requests.post(f"{server}/tts/", timeout=300, **kwargs)


def test_errors_through_bentoml_are_the_apps_json(server):
    """Every error path is tested in-process (tests/serving); here, that they survive BentoML's mount."""
    unknown = post(server, json={"text": "Hi", "voice": "xx_unknown"})
    assert unknown.status_code == 400
    assert "Voice 'xx_unknown' not found. Available voices: ['af_alloy'" in unknown.json()["error"]
    deep = post(server, data=b"[" * 100_000 + b"]" * 100_000, headers={"Content-Type": "application/json"})
    assert deep.status_code == 400 and "not valid JSON" in deep.json()["error"]
    huge = post(server, data=b"x" * 2_000_000, headers={"Content-Type": "application/json"})
    assert huge.status_code == 413 and "error" in huge.json()


def test_server_stays_healthy_after_bad_requests(server):
    for _ in range(3):
        post(server, data="{bad", headers={"Content-Type": "application/json"})
    health = requests.get(f"{server}/tts/health", timeout=10)
    assert health.status_code == 200
    assert health.json()["status"] == "healthy" and health.json()["model_loaded"] is True


def test_unknown_routes_answer_json(server):
    reply = requests.get(f"{server}/tts/nothing-here", timeout=10)
    assert reply.status_code == 404
    assert "error" in reply.json()


def test_streaming_headers_and_content_types(server):
    for audio_format, media_type in (("wav", "audio/wav"), ("aac", "audio/aac")):
        reply = post(
            server,
            json={"text": "Headers.", "voice": "af_heart", "format": audio_format, "include_timestamps": False},
        )
        assert reply.status_code == 200
        assert reply.headers["Content-Type"] == media_type
        assert reply.headers["X-Voice"] == "af_heart"
        assert reply.headers["X-Speed"] == "1.0"
        assert reply.headers["X-Text-Length"] == "8"
        assert reply.headers["X-Include-Timestamps"] == "false"
        assert len(reply.content) > 1000


def test_json_response_fields_and_audio(server):
    reply = post(server, json={"text": "The quick brown fox.", "voice": "bm_george", "speed": 1.2, "format": "wav"})
    body = reply.json()
    assert body["sample_rate"] == 24_000 and body["voice"] == "bm_george" and body["speed"] == 1.2
    samples, rate = soundfile.read(io.BytesIO(base64.b64decode(body["audio"])))
    assert rate == 24_000
    assert abs(len(samples) / rate - body["total_duration"]) < 0.01
    assert body["word_timestamps"][-1]["end_time"] <= body["total_duration"]


def test_voices_info_and_slashless_route(server):
    voices = requests.get(f"{server}/tts/voices", timeout=10).json()
    assert voices["count"] == len(voices["voices"]) == 54 and "af_heart" in voices["voices"]
    info = requests.get(f"{server}/tts/", timeout=10).json()
    assert "POST /tts/" in info["endpoints"] and "voice" in info["parameters"]
    reply = requests.post(f"{server}/tts", json={"text": "No slash.", "voice": "af_heart"}, timeout=60)
    assert reply.status_code == 200 and reply.json()["word_timestamps"]


def test_bentoml_probes_metrics_and_openapi_stay_available(server):
    assert requests.get(f"{server}/livez", timeout=10).status_code == 200
    assert requests.get(f"{server}/readyz", timeout=10).status_code == 200
    metrics = requests.get(f"{server}/metrics", timeout=10).text
    assert "tts_requests_total" in metrics and "tts_requests_in_flight" in metrics
    spec = requests.get(f"{server}/docs.json", timeout=10).json()
    assert {"/tts/", "/tts/voices", "/tts/health"} <= set(spec["paths"])
    post_tts = spec["paths"]["/tts/"]["post"]
    assert "application/x-www-form-urlencoded" in post_tts["requestBody"]["content"]
    assert {"200", "400", "413", "429", "503"} <= set(post_tts["responses"])
    assert "TTSResponse" in spec["components"]["schemas"]


def test_first_streamed_bytes_arrive_well_before_the_json_response(server):
    # 1,000 characters keep the suite's time down; benchmarks/serving.py first-audio measures 2,000
    text = ("A long text is streamed, chunk by chunk, while the rest is still being synthesised. " * 15)[:1_000]
    rendered_before = chunks_rendered(server)
    with post(server, json={"text": text, "voice": "af_heart", "include_timestamps": False}, stream=True) as reply:
        pieces = reply.iter_content(chunk_size=None)
        first_piece = next(pieces)
        rendered_at_first_bytes = chunks_rendered(server) - rendered_before
        streamed = first_piece + b"".join(pieces)
    rendered = chunks_rendered(server) - rendered_before
    print(f"\n1,000 characters: first streamed bytes after {rendered_at_first_bytes} of {rendered} chunks")
    assert len(streamed) > 1_000_000
    assert rendered >= 4 and rendered_at_first_bytes <= rendered / 2


def test_health_answers_at_once_while_the_synthesizer_is_busy(server):
    text = "The synthesizer is kept busy by this long request, sentence after sentence. " * 8
    busy = threading.Thread(target=post, args=(server,), kwargs={"json": {"text": text, "voice": "af_heart"}})
    busy.start()
    try:
        while in_flight(server) == 0 and busy.is_alive():
            time.sleep(0.05)
        for _ in range(3):
            assert requests.get(f"{server}/tts/health", timeout=10).status_code == 200
        assert in_flight(server) == 1, "the long request was over before health was asked"
    finally:
        busy.join()


def in_flight(server: str) -> float:
    metrics = requests.get(f"{server}/metrics", timeout=10).text
    return float(re.search(r"^tts_requests_in_flight (\S+)$", metrics, re.MULTILINE).group(1))


def chunks_rendered_by_lane(server: str) -> dict[str, float]:
    metrics = requests.get(f"{server}/metrics", timeout=10).text
    counts = re.findall(r'^tts_chunks_rendered_total\{lane="(\w+)"\} ([0-9.e+]+)$', metrics, re.MULTILINE)
    return {lane: float(value) for lane, value in counts}


def test_a_requests_first_chunk_takes_the_first_lane_and_the_rest_the_low_priority_bulk_lane(server):
    """On CPU (the bulk lane's default), a long text's later chunks run in the second process."""
    text = "This sentence starts the answer. " + "Then the rest of a long text follows, clause after clause. " * 6
    before = chunks_rendered_by_lane(server)
    reply = post(server, json={"text": text, "voice": "af_heart"})
    assert reply.status_code == 200
    after = chunks_rendered_by_lane(server)
    rendered = {lane: after.get(lane, 0.0) - before.get(lane, 0.0) for lane in ("Synthesizer", "BulkSynthesizer")}
    assert rendered["Synthesizer"] == 1
    assert rendered["BulkSynthesizer"] >= 2
