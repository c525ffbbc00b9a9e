"""Real Kokoro-82M weights: speech of the right length, word timestamps that fit the audio."""

import re

import numpy as np
import pytest

from benchmarks.weights_parity import measure

pytestmark = pytest.mark.weights

FOX = "The quick brown fox jumps over the lazy dog."
FOX_WORDS = ["The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"]


def test_the_torch_and_onnxruntime_backends_speak_as_one_model():
    for parity in measure():
        # int8 activations on one side, float on the other: a rounding may land a frame apart
        assert parity.largest_duration_difference <= 1
        assert parity.tokens_with_other_durations <= 0.1 * parity.tokens
        assert parity.aligned_cosine > 0.97
        assert parity.control_cosine < parity.aligned_cosine - 0.3  # another voice is far away on this measure
        assert 0.8 < parity.level_ratio < 1.25  # the export's 1.5x gain is undone


def test_the_engine_runs_the_pypi_export_on_onnxruntime(engine):
    assert engine.source.startswith("pypi:")
    assert engine.device == "cpu"
    assert type(engine.backend).__name__ == "OnnxBackend"


@pytest.mark.parametrize("voice", ["af_heart", "af_bella"])
def test_fox_sentence_gives_seconds_of_speech_and_nine_timed_words(engine, voice):
    chunks = list(engine.speak(FOX, voice))
    audio = np.concatenate([c.samples for c in chunks]) / 32768.0
    duration_s = audio.shape[0] / 24_000
    assert 2.0 <= duration_s <= 5.0
    words = [w for c in chunks for w in c.words]
    assert [w.word for w in words if re.search(r"\w", w.word)] == FOX_WORDS
    assert [w.word for w in words][-1] == "."
    assert all(a.end_s <= b.start_s for a, b in zip(words, words[1:], strict=False))
    assert all(w.start_s < w.end_s for w in words)
    assert 0 <= duration_s - words[-1].end_s <= 0.1
    # speech, not silence or noise: energy where the words are
    rms = lambda a, b: float(np.sqrt(np.mean(audio[int(a * 24_000) : int(b * 24_000)] ** 2)))  # noqa: E731
    assert all(rms(w.start_s, w.end_s) > 0.005 for w in words[:-1])  # a last word trails off: "dog" 0.009
    # near-silence before the first word, up to two 25 ms frames before its time, where its onset may begin
    assert rms(0, words[0].start_s - 0.05) < rms(words[1].start_s, words[1].end_s) / 3


def long_text(characters: int) -> str:
    sentences = [
        "Every morning the harbour wakes before the town does.",
        "Fishermen check their nets, gulls argue over scraps, and the ferry sounds its horn twice.",
        "By nine o'clock the cafes are full; by noon, the tide has turned again.",
        "Visitors ask why anyone would live so far from the city, and the answer is always the same:",
        "here, the day has a shape you can hear.",
    ]
    text, n = "", 0
    while len(text) < characters:
        text += sentences[n % len(sentences)] + " "
        n += 1
    return text[:characters].rsplit(" ", 1)[0] + "."


def test_a_long_text_is_spoken_whole_and_the_first_chunk_comes_first(engine):
    """700 characters: four chunks, the fewest that show a text split, spoken lazily and whole."""
    text = long_text(700)
    assert len(text) >= 650
    rendered: list[int] = []
    original = engine.render

    def counting_render(job):
        rendered.append(len(job.token_ids))
        return original(job)

    engine.render = counting_render  # instance attribute: the class's method is untouched
    try:
        chunks = engine.speak(text, "af_heart")
        first = next(chunks)
        assert len(rendered) == 1  # a generator: the rest is not synthesised yet
        rest = list(chunks)
    finally:
        del engine.render
    spoken = [first, *rest]
    assert len(spoken) == len(rendered) > 3
    words = [w.word for c in spoken for w in c.words if re.search(r"\w", w.word)]
    assert words == re.findall(r"[\w']+", text)
    times = [(w.start_s, w.end_s) for c in spoken for w in c.words]
    assert all(s1 <= s2 and e1 <= s2 for (s1, e1), (s2, _) in zip(times, times[1:], strict=False))
    total_s = sum(c.samples.shape[0] for c in spoken) / 24_000
    assert times[-1][1] <= total_s
    assert total_s > 35  # ~700 characters is over half a minute of speech, not a truncated first chunk
