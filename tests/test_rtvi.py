"""RTVI models: wire-exact JSON, round trips for every type, clear parse errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rtws import rtvi

#: A realistic wire message for every type rtws knows (what pipecat 1.x sends or accepts).
WIRE: dict[str, dict[str, Any]] = {
    "bot-ready": {
        "version": rtvi.PROTOCOL_VERSION,
        "about": {"provider": "openai", "model": "gpt-realtime"},
    },
    "error": {"error": "OpenAI error (invalid_value): bad voice", "fatal": False},
    "error-response": {"error": "unsupported"},
    "server-response": {"t": "echo", "d": {"ok": True}},
    "server-message": {"kind": "custom", "n": 3},
    "user-started-speaking": {},
    "user-stopped-speaking": {},
    "user-mute-started": {},
    "user-mute-stopped": {},
    "bot-started-speaking": {},
    "bot-stopped-speaking": {},
    "bot-interrupted": {},
    "user-transcription": {
        "text": "what's the weather in Paris",
        "user_id": "u1",
        "timestamp": "2026-11-23T10:00:00.000Z",
        "final": True,
    },
    "bot-output": {
        "text": "It is sunny in Paris.",
        "spoken": True,
        "aggregated_by": "sentence",
        "output_type": "audio",
        "segment_id": "seg-1",
    },
    "bot-llm-started": {},
    "bot-llm-stopped": {},
    "bot-llm-text": {"text": "It is "},
    "bot-tts-started": {},
    "bot-tts-stopped": {},
    "bot-tts-text": {"text": "sunny"},
    "llm-function-call-started": {"function_name": "get_weather"},
    "llm-function-call-in-progress": {
        "tool_call_id": "call_1",
        "function_name": "get_weather",
        "arguments": {"city": "Paris"},
    },
    "llm-function-call-stopped": {
        "tool_call_id": "call_1",
        "cancelled": False,
        "function_name": "get_weather",
        "result": {"temp_c": 21},
    },
    "metrics": {
        "ttfb": [{"processor": "openai", "model": "gpt-realtime", "value": 0.412}],
        "processing": [{"processor": "openai", "value": 1.2}],
        "tokens": [
            {
                "processor": "openai",
                "model": "gpt-realtime",
                "value": {"prompt_tokens": 120, "completion_tokens": 45, "total_tokens": 165},
            }
        ],
    },
    "user-audio-level": {"value": 0.42},
    "bot-audio-level": {"value": 0.9},
    "client-ready": {
        "version": rtvi.PROTOCOL_VERSION,
        "about": {"library": "rtws", "library_version": "0.1.0"},
    },
    "send-text": {
        "content": "hello",
        "options": {"run_immediately": True, "audio_response": False},
    },
    "llm-function-call-result": {
        "function_name": "get_weather",
        "tool_call_id": "call_1",
        "arguments": {"city": "Paris"},
        "result": {"temp_c": 21},
    },
    "client-message": {"t": "commit", "d": {"reason": "button"}},
    "disconnect-bot": {},
    "transport-state-changed": {"state": "ready", "previous": "connected"},
    "available-mics-updated": {"devices": [{"id": "3", "name": "USB mic", "kind": "audioinput"}]},
    "available-speakers-updated": {"devices": []},
    "mic-updated": {"device": {"id": "3", "name": "USB mic", "kind": "audioinput"}},
    "speaker-updated": {"device": {"id": "1", "name": "Speakers", "kind": "audiooutput"}},
    "device-error": {
        "message": "the microphone disappeared",
        "device_id": "3",
        "kind": "audioinput",
    },
    "reconnecting": {
        "attempt": 1,
        "max_attempts": 3,
        "delay_s": 0.5,
        "reason": "lost the connection",
    },
    "reconnected": {"attempt": 1, "resumed": True},
}


def wire(kind: str) -> dict[str, Any]:
    msg: dict[str, Any] = {"label": "rtvi-ai", "type": kind, "id": f"id-{kind}"}
    if WIRE[kind]:
        msg["data"] = WIRE[kind]
    return msg


def test_every_known_type_has_a_realistic_fixture() -> None:
    assert set(rtvi.message_types()) == set(WIRE)


@pytest.mark.parametrize("kind", sorted(WIRE))
def test_round_trip_is_wire_exact(kind: str) -> None:
    raw = json.dumps(wire(kind))
    msg = rtvi.parse(raw)
    assert type(msg) is rtvi.message_types()[kind]
    assert msg.type == kind
    assert json.loads(msg.to_json()) == wire(kind)
    assert rtvi.parse(msg.to_json()) == msg


def test_contract_types_are_present_and_classified() -> None:
    server = {
        "bot-ready", "error", "user-started-speaking", "user-stopped-speaking",
        "bot-started-speaking", "bot-stopped-speaking", "bot-interrupted", "user-transcription",
        "bot-output", "bot-llm-started", "bot-llm-stopped", "bot-llm-text", "bot-tts-started",
        "bot-tts-stopped", "bot-tts-text", "llm-function-call-started",
        "llm-function-call-in-progress", "llm-function-call-stopped", "metrics",
        "user-audio-level", "bot-audio-level", "server-message",
    }  # fmt: skip
    client = {
        "client-ready",
        "send-text",
        "llm-function-call-result",
        "client-message",
        "disconnect-bot",
    }
    local = {
        "transport-state-changed", "available-mics-updated", "available-speakers-updated",
        "mic-updated", "speaker-updated", "device-error",
    }  # fmt: skip
    assert server <= rtvi.SERVER_TYPES
    assert client == rtvi.CLIENT_TYPES
    assert local <= rtvi.LOCAL_TYPES
    assert not (rtvi.LOCAL_TYPES & rtvi.SERVER_TYPES)


def test_constructed_messages_serialize_like_pipecat() -> None:
    msg = rtvi.bot_output("Hi there.", spoken=True)
    out = json.loads(msg.to_json())
    assert out["label"] == "rtvi-ai" and out["type"] == "bot-output" and out["id"]
    assert out["data"] == {"text": "Hi there.", "spoken": True, "aggregated_by": "sentence"}
    bare = json.loads(rtvi.BotInterrupted(id="x").to_json())
    assert bare == {"label": "rtvi-ai", "type": "bot-interrupted", "id": "x"}
    ready = rtvi.BotReady(id="r")
    assert json.loads(ready.to_json())["data"] == {"version": rtvi.PROTOCOL_VERSION}
    assert rtvi.PROTOCOL_VERSION.count(".") == 2


def test_unknown_data_fields_survive_a_round_trip() -> None:
    raw = wire("bot-output")
    raw["data"]["spoken_progress"] = 0.5
    raw["data"]["future_field"] = {"x": 1}
    assert json.loads(rtvi.parse(raw).to_json()) == raw


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"label": "other", "type": "bot-ready"}', "label"),
        ('{"label": "rtvi-ai"}', "type"),
        (
            '{"label": "rtvi-ai", "type": "no-such-thing"}',
            "unknown RTVI message type 'no-such-thing'",
        ),
        (
            '{"label": "rtvi-ai", "type": "user-transcription", "data": {"text": "hi"}}',
            "data.final",
        ),
        ('{"label": "rtvi-ai", "type": "user-audio-level", "data": {"value": 7}}', "data.value"),
        ('{"label": "rtvi-ai", "type": "error", "data": "boom"}', "data"),
        ('{"label": "rtvi-ai", "type": "bot-ready", "extra": 1}', "extra"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_parse_errors_say_what_is_wrong(raw: str | bytes, match: str) -> None:
    with pytest.raises(rtvi.RTVIParseError, match=match) as info:
        rtvi.parse(raw)
    assert isinstance(info.value, ValueError)


def test_timestamps_are_iso_utc() -> None:
    stamp = rtvi.user_transcription("hi", final=False).data.timestamp
    assert stamp.endswith("Z") and "T" in stamp
