"""Serving settings: read once, typed, loud when wrong."""

import pytest

from engine.settings import SettingError
from serving.config import ServingSettings


def test_defaults_by_device():
    settings = ServingSettings.from_env({})
    assert (settings.in_flight_for("cpu"), settings.in_flight_chars_for("cpu")) == (16, 5_000)
    assert settings.in_flight_for("cuda") == 256 and settings.api_key is None
    assert settings.cors_origins == ("*",)
    assert (settings.admission_deadline_s, settings.max_queue_wait_s) == (300.0, None)  # wait as the deadline allows
    assert (settings.initial_rate_for("cpu"), settings.initial_rate_for("cuda")) == (45.0, 2_000.0)


def test_values_from_the_environment():
    settings = ServingSettings.from_env(
        {
            "TTS_MAX_IN_FLIGHT": "3",
            "TTS_MAX_QUEUE_WAIT_S": "0",
            "TTS_CORS_ORIGINS": "https://a.example, https://b.example",
            "TTS_API_KEY": " k ",
            "TTS_ADMISSION_DEADLINE_S": "60",
            "TTS_INITIAL_RATE_CHARS_S": "90",
        }
    )
    assert settings.admission_deadline_s == 60.0 and settings.initial_rate_for("cpu") == 90.0
    assert settings.in_flight_for("cpu") == 3 and settings.max_queue_wait_s == 0
    assert settings.cors_origins == ("https://a.example", "https://b.example") and settings.api_key == "k"
    assert ServingSettings.from_env({"TTS_CORS_ORIGINS": ""}).cors_origins == ()


@pytest.mark.parametrize(("name", "value"), [("TTS_MAX_IN_FLIGHT", "0"), ("TTS_MAX_BODY_BYTES", "big"),
                                             ("TTS_MAX_QUEUE_WAIT_S", "-1"),
                                             ("TTS_ADMISSION_DEADLINE_S", "soon")])  # fmt: skip
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(SettingError, match=name):
        ServingSettings.from_env({name: value})
