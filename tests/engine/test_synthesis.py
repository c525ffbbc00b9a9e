import numpy as np
import pytest
import torch

from engine.audio import to_pcm16
from engine.config import kokoro_config
from engine.languages import Phonemizers
from engine.speech import SpeechPlanner, speak
from engine.synthesis import FADE_SAMPLES, fade_edges
from engine.timing import SAMPLES_PER_FRAME
from engine.torch_forward import chunk_noise, forward, render
from engine.voices import PACK_SHAPE, VoiceLibrary

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def planner(tmp_path_factory):
    folder = tmp_path_factory.mktemp("voices")
    torch.manual_seed(1)
    torch.save(torch.randn(PACK_SHAPE) * 0.1, folder / "af_test.pt")
    return SpeechPlanner(VoiceLibrary(folder), Phonemizers(), kokoro_config()["vocab"], max_text_chars=5_000)


def test_audio_is_600_samples_per_predicted_frame(tiny_model):
    rendered = render(tiny_model, [10, 20, 30, 40], torch.zeros(1, 256), 1.0)
    assert len(rendered.frames) == 6
    assert len(rendered.pcm16) == 2 * sum(rendered.frames) * SAMPLES_PER_FRAME
    assert rendered.samples.dtype == np.dtype("<i2")


def test_rendered_pcm16_is_the_models_float_output_faded_and_rounded_once(tiny_model):
    style = torch.randn(1, 256)
    samples, frames = forward(tiny_model, [10, 20, 30, 40], style, 1.0)
    assert samples.dtype == np.float32
    rendered = render(tiny_model, [10, 20, 30, 40], style, 1.0)
    np.testing.assert_array_equal(rendered.frames, frames)
    np.testing.assert_array_equal(rendered.samples, to_pcm16(fade_edges(samples)))


def test_chunk_edges_fade_in_and_out(tiny_model):
    pcm16 = render(tiny_model, [10, 20, 30], torch.zeros(1, 256), 1.0).samples
    assert pcm16[0] == 0 and pcm16[-1] == 0
    assert np.abs(pcm16[FADE_SAMPLES:-FADE_SAMPLES]).max() > 0


def test_a_chunk_renders_to_the_same_samples_every_time_and_leaves_the_global_generator_alone(tiny_model):
    style = torch.randn(1, 256)
    state = torch.get_rng_state()
    first = render(tiny_model, [10, 20, 30, 40], style, 1.0).pcm16
    again = render(tiny_model, [10, 20, 30, 40], style, 1.0).pcm16
    assert first == again
    assert torch.equal(torch.get_rng_state(), state)


def test_other_tokens_draw_other_noise():
    """chunk_noise seeds from the tokens: the draws repeat for the same tokens, not for others."""
    cpu = torch.device("cpu")
    draws = []
    for tokens in ([1, 2, 3], [1, 2, 3], [1, 2, 4]):
        with chunk_noise(tokens, cpu):
            draws.append(torch.randn(8))
    assert torch.equal(draws[0], draws[1])
    assert not torch.equal(draws[0], draws[2])


def test_faster_speech_predicts_fewer_frames(tiny_model):
    slow = sum(render(tiny_model, list(range(10, 20)), torch.zeros(1, 256), 0.5).frames)
    fast = sum(render(tiny_model, list(range(10, 20)), torch.zeros(1, 256), 2.0).frames)
    assert fast < slow


def test_word_times_run_across_chunks_in_order_and_inside_the_audio(tiny_model, planner):
    """Random weights: this checks the arithmetic of placing chunks, never the speech."""
    voices = planner.voices

    def render_tiny(job):
        style = torch.from_numpy(voices.style(job.voice, len(job.token_ids)))
        return render(tiny_model, job.token_ids, style, job.speed)

    text = "Hello there, friend. " * 3  # two chunks: the first sentence, then the other two
    chunks = list(speak(planner, render_tiny, text, "af_test"))
    assert len(chunks) > 1
    words = [w for c in chunks for w in c.words]
    assert [w.word for w in words] == [t for _ in range(3) for t in ("Hello", "there", ",", "friend", ".")]
    starts = [w.start_s for w in words]
    assert starts == sorted(starts)
    assert all(w.start_s <= w.end_s for w in words)
    total_s = sum(c.samples.shape[0] for c in chunks) / 24_000
    assert words[-1].end_s <= total_s
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.start_s == pytest.approx(before.start_s + before.samples.shape[0] / 24_000)
        assert after.words[0].start_s >= after.start_s
