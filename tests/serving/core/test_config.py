"""The serving settings: batching and serving resolved against the device, and all of them read at once."""

import pytest

from engine import device
from engine.settings import ModelSettings, SettingError, TextSettings
from serving.core.config import BatchingSettings, ServingSettings, Settings, SocketLimits

pytestmark = pytest.mark.unit


def test_batching_is_off_on_cpu_with_a_bulk_lane_and_on_for_cuda_without_one():
    assert BatchingSettings.from_env({}, "cpu") == BatchingSettings(max_batch_size=1, slots=1, bulk_lane=True)
    assert BatchingSettings.from_env({}, "cuda:0") == BatchingSettings(max_batch_size=16, slots=32, bulk_lane=False)


def test_batching_values_from_the_environment():
    assert BatchingSettings.from_env({"KOKORO_MAX_BATCH_SIZE": "4"}, "cpu").max_batch_size == 4
    assert BatchingSettings.from_env({"KOKORO_MAX_BATCH_SIZE": "8"}, "cpu").slots == 16
    assert BatchingSettings.from_env({"KOKORO_MAX_BATCH_SIZE": "1"}, "cuda").slots == 1
    assert BatchingSettings.from_env({"KOKORO_SYNTH_SLOTS": "3"}, "cpu").slots == 3
    assert BatchingSettings.from_env({"KOKORO_BULK_LANE": "on"}, "cuda:1").bulk_lane
    assert not BatchingSettings.from_env({"KOKORO_BULK_LANE": "OFF"}, "cpu").bulk_lane
    assert BatchingSettings.from_env({"KOKORO_MAX_LATENCY_MS": "50"}, "cuda").max_latency_ms == 50
    with pytest.raises(SettingError, match="KOKORO_BULK_LANE"):
        BatchingSettings.from_env({"KOKORO_BULK_LANE": "sometimes"}, "cpu")


def test_serving_defaults_by_device():
    cpu = ServingSettings.from_env({}, "cpu")
    assert cpu == ServingSettings()  # the defaults are the CPU server's
    assert (cpu.max_in_flight, cpu.max_in_flight_chars, cpu.initial_rate_chars_s) == (16, 5_000, 45.0)
    assert cpu.api_key is None and cpu.cors_origins == () and not cpu.debug
    assert (cpu.admission_deadline_s, cpu.max_queue_wait_s) == (300.0, None)  # wait as the deadline allows
    cuda = ServingSettings.from_env({}, "cuda")
    assert (cuda.max_in_flight, cuda.max_in_flight_chars, cuda.initial_rate_chars_s) == (256, 200_000, 2_000.0)


def test_serving_values_from_the_environment():
    settings = ServingSettings.from_env(
        {
            "TTS_MAX_IN_FLIGHT": "3",
            "TTS_MAX_QUEUE_WAIT_S": "0",
            "TTS_CORS_ORIGINS": "https://a.example, https://b.example",
            "TTS_API_KEY": " k ",
            "TTS_ADMISSION_DEADLINE_S": "60",
            "TTS_INITIAL_RATE_CHARS_S": "90",
            "TTS_DEBUG": "yes",
        },
        "cuda",
    )
    assert settings.admission_deadline_s == 60.0 and settings.initial_rate_chars_s == 90.0
    assert settings.max_in_flight == 3 and settings.max_queue_wait_s == 0
    assert settings.cors_origins == ("https://a.example", "https://b.example") and settings.api_key == "k"
    assert settings.debug
    assert ServingSettings.from_env({"TTS_CORS_ORIGINS": ""}, "cpu").cors_origins == ()


@pytest.mark.parametrize(("name", "value"), [("TTS_MAX_IN_FLIGHT", "0"), ("TTS_MAX_BODY_BYTES", "big"),
                                             ("TTS_MAX_QUEUE_WAIT_S", "-1"), ("TTS_DEBUG", "maybe"),
                                             ("TTS_ADMISSION_DEADLINE_S", "soon")])  # fmt: skip
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(SettingError, match=name):
        ServingSettings.from_env({name: value}, "cpu")


def test_every_group_is_read_once_against_the_one_device(monkeypatch):
    monkeypatch.setattr(device, "cuda_device_count", lambda: 0)
    settings = Settings.from_env({"TTS_MAX_TEXT_LENGTH": "500", "KOKORO_SYNTH_SLOTS": "2", "TTS_MAX_QUEUED": "5"})
    assert settings.text == TextSettings(max_text_chars=500)
    assert settings.model == ModelSettings()
    assert settings.batching == BatchingSettings(slots=2)
    assert settings.serving == ServingSettings(max_queued=5)


def test_socket_limits_from_the_environment_and_loud_when_wrong():
    limits = ServingSettings.from_env(
        {"TTS_WS_MAX_CONTEXTS": "4", "TTS_WS_MAX_GATHER_CHARS": "500", "TTS_WS_MAX_MESSAGE_BYTES": "2048",
         "TTS_WS_MAX_MESSAGES_S": "20.5", "TTS_WS_IDLE_S": "30"}, "cpu",
    ).socket  # fmt: skip
    assert limits == SocketLimits(max_contexts=4, max_gather_chars=500, max_message_bytes=2048,
                                  max_messages_s=20.5, idle_s=30.0)  # fmt: skip
    assert ServingSettings.from_env({}, "cpu").socket == SocketLimits()
    for name, value in [("TTS_WS_MAX_CONTEXTS", "0"), ("TTS_WS_MAX_GATHER_CHARS", "10"), ("TTS_WS_IDLE_S", "soon")]:
        with pytest.raises(SettingError, match=name):
            ServingSettings.from_env({name: value}, "cpu")
