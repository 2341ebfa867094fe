"""Wrong settings fail at construction, with the field's name in the message.

A typo'd rate or URL should fail on the line that wrote it, not minutes
later inside a session. Covers the options every transport shares, both
providers' options, the media backends' arguments and the audio they are
given.
"""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from rtws_gemini import GeminiLiveOptions
from rtws_openai import OpenAIRealtimeOptions

from rtws import ConfigurationError, FileMediaManager, ReconnectPolicy, TransportOptions
from rtws.options import WebSocketURL


def names(exc: ValidationError, field: str) -> None:
    """The error points at ``field``: in its location and in the text a user reads."""
    locations = [".".join(str(p) for p in err["loc"]) for err in exc.errors()]
    assert any(field == loc or loc.startswith(field + ".") for loc in locations), locations
    assert field.split(".")[0] in str(exc)


CORE_BAD: list[tuple[str, Any]] = [
    ("connect_timeout", -1),
    ("connect_timeout", 0),
    ("chunk_ms", 0),
    ("chunk_ms", 1000),
    ("prebuffer_ms", -5),
    ("ping_interval", 0),
    ("ping_timeout", -1.0),
    ("bot_stopped_after_ms", -1),
    ("resample_quality", "best"),
    ("reconnect_hold_ms", -20),
    ("level_interval", 0),
    ("reconnect", {"max_attempts": -1}),
    ("reconnect", {"jitter": 2}),
    ("reconnect", {"initial_delay": -0.5}),
    ("reconnect", {"initial_delay": 5.0, "max_delay": 1.0}),
    ("reconnect", {"max_attempts": 3, "retries": 3}),
    ("chunk_ms", "fast"),
]


@pytest.mark.parametrize(("field", "value"), CORE_BAD)
def test_core_options_refuse_bad_values_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        TransportOptions.model_validate({field: value})
    names(info.value, field)


def test_a_misspelt_option_is_refused_not_ignored() -> None:
    with pytest.raises(ValidationError) as info:
        TransportOptions.model_validate({"conect_timeout": 3})
    names(info.value, "conect_timeout")
    assert "Extra inputs are not permitted" in str(info.value)


def test_assignment_is_validated_too() -> None:
    options = TransportOptions()
    with pytest.raises(ValidationError) as info:
        options.prebuffer_ms = -1
    names(info.value, "prebuffer_ms")
    assert options.prebuffer_ms == 40.0


def test_reconnect_policy_delays_must_be_in_order() -> None:
    with pytest.raises(ValidationError, match=r"max_delay \(1 s\) must not be shorter"):
        ReconnectPolicy(initial_delay=5.0, max_delay=1.0)


class WithURL(TransportOptions):
    url: WebSocketURL


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/v1",
        "example.com/v1",
        "wss://",
        "ws://host:99999/x",
        "ws://host:port/x",
        "wss://exa mple.com/v1",
        "",
    ],
)
def test_websocket_urls_are_checked(url: str) -> None:
    with pytest.raises(ValidationError) as info:
        WithURL(url=url)
    names(info.value, "url")


def test_a_good_websocket_url_is_kept_as_written() -> None:
    assert WithURL(url="wss://h.example:8443/v1?x=1").url == "wss://h.example:8443/v1?x=1"


# ---------------------------------------------------------------- providers
PROVIDER_BAD: list[tuple[type[TransportOptions], str, Any]] = [
    (OpenAIRealtimeOptions, "voice", ""),
    (OpenAIRealtimeOptions, "speed", 4.0),
    (OpenAIRealtimeOptions, "base_url", "ftp://api.openai.com"),
    (OpenAIRealtimeOptions, "base_url", "https://api.openai.com/v1?key=1"),
    (OpenAIRealtimeOptions, "output_modalities", ["audio", "text"]),
    (OpenAIRealtimeOptions, "turn_detection", {"type": "psychic"}),
    (OpenAIRealtimeOptions, "tools", [{"name": "has spaces"}]),
    (OpenAIRealtimeOptions, "chunk_ms", -20),
    (GeminiLiveOptions, "host", "https://generativelanguage.googleapis.com"),
    (GeminiLiveOptions, "temperature", 3.0),
    (GeminiLiveOptions, "response_modalities", ["AUDIO", "TEXT"]),
    (GeminiLiveOptions, "key_in", "cookie"),
    (GeminiLiveOptions, "prebuffer_ms", -1),
]


@pytest.mark.parametrize(("options", "field", "value"), PROVIDER_BAD)
def test_provider_options_refuse_bad_values_naming_the_field(
    options: type[TransportOptions], field: str, value: Any
) -> None:
    with pytest.raises(ValidationError) as info:
        options.model_validate({"api_key": "sk-test-validation-000", field: value})
    names(info.value, field)


# ---------------------------------------------------------------- media
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"block_ms": 0}, "block_ms"),
        ({"output_rate": -16000}, "output_rate"),
        ({"input": np.zeros(160, np.int16)}, "input_rate"),
        ({"input": np.zeros(160, np.int16), "input_rate": -1}, "input_rate"),
        ({"input": np.zeros((2, 3, 4), np.int16), "input_rate": 16000}, "shape"),
        ({"input": np.zeros(16, np.complex64), "input_rate": 16000}, "complex64"),
    ],
)
def test_file_media_refuses_bad_arguments_naming_them(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError, match=field):
        FileMediaManager(**kwargs)


def test_file_media_refuses_a_wav_that_is_not_pcm(tmp_path: Path) -> None:
    not_wav = tmp_path / "notes.wav"
    not_wav.write_text("not audio")
    with pytest.raises(
        ConfigurationError,
        match=r"notes\.wav is not a WAV file \(it starts with b.not audio.\); expected a WAV",
    ):
        FileMediaManager(not_wav)
    with pytest.raises(ConfigurationError, match="no such WAV file"):
        FileMediaManager(tmp_path / "missing.wav")


def test_file_media_refuses_a_feed_at_another_rate(tmp_path: Path) -> None:
    path = tmp_path / "mono16k.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(np.zeros(160, np.int16).tobytes())
    media = FileMediaManager(path)
    with pytest.raises(ConfigurationError, match="input rate 16000 Hz, got 48000 Hz"):
        media.feed(np.zeros(480, np.int16), 48000)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"input_rate": -1}, "input_rate"),
        ({"output_rate": 0}, "output_rate"),
        ({"channels": 0}, "channels"),
        ({"blocksize_ms": 0}, "blocksize_ms"),
        ({"latency": -0.1}, "latency"),
    ],
)
def test_sound_device_media_refuses_bad_arguments_naming_them(
    kwargs: dict[str, Any], field: str
) -> None:
    media = pytest.importorskip("rtws.media.sounddevice", exc_type=OSError)
    with pytest.raises(ConfigurationError, match=field):
        media.SoundDeviceMediaManager(**kwargs)
