"""Options → the setup message, checked against google-genai's types and its own converter."""

from __future__ import annotations

import json

import pytest
from google.genai import types
from pydantic import SecretStr, ValidationError
from rtws_gemini import (
    AutomaticActivityDetection,
    ContextWindowCompression,
    FunctionDeclaration,
    GeminiLiveOptions,
    ManualActivity,
    setup_message,
    wire,
)
from rtws_gemini.setup import INPUT_MIME, gemini_schema
from rtws_gemini.testing import parse_client_message

from providers.gemini.tests.genai_check import check_client_frame, sdk_setup

WEATHER = FunctionDeclaration(
    name="get_weather",
    description="Current weather in a city.",
    parameters={
        "type": "object",
        "$schema": "http://json-schema.org/draft-07/schema#",
        "additionalProperties": False,
        "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": ["string", "null"], "enum": ["C", "F"]},
            "days": {"type": "array", "items": {"type": "integer", "minimum": 1}, "maxItems": 7},
        },
        "required": ["city"],
    },
    behavior="NON_BLOCKING",
)


def full_options() -> GeminiLiveOptions:
    return GeminiLiveOptions(
        api_key=SecretStr("k" * 39),
        model="models/gemini-live-test",
        voice="Kore",
        language_code="en-US",
        system_instruction="Be brief.",
        tools=[WEATHER],
        temperature=0.7,
        max_output_tokens=512,
        activity_detection=AutomaticActivityDetection(
            start_of_speech_sensitivity="START_SENSITIVITY_LOW",
            end_of_speech_sensitivity="END_SENSITIVITY_HIGH",
            prefix_padding_ms=40,
            silence_duration_ms=300,
        ),
        activity_handling="NO_INTERRUPTION",
        turn_coverage="TURN_INCLUDES_ALL_INPUT",
        context_window_compression=ContextWindowCompression(
            trigger_tokens=20000, target_tokens=10000
        ),
    )


def test_full_setup_parses_as_genai_types() -> None:
    message = setup_message(full_options(), handle="handle-1")
    parsed = check_client_frame(json.dumps(message))
    setup = parsed.setup
    assert setup is not None and setup.generation_config is not None
    assert setup.model == "models/gemini-live-test"
    assert setup.generation_config.response_modalities == [types.Modality.AUDIO]
    speech = setup.generation_config.speech_config
    assert speech is not None and speech.voice_config is not None
    assert speech.voice_config.prebuilt_voice_config == types.PrebuiltVoiceConfig(voice_name="Kore")
    assert setup.session_resumption == types.SessionResumptionConfig(handle="handle-1")
    assert setup.input_audio_transcription == types.AudioTranscriptionConfig()
    realtime = types.RealtimeInputConfig.model_validate(message["setup"]["realtimeInputConfig"])
    assert realtime.activity_handling == types.ActivityHandling.NO_INTERRUPTION
    vad = realtime.automatic_activity_detection
    assert vad is not None and vad.silence_duration_ms == 300 and vad.disabled is None
    tool = setup.tools[0] if isinstance(setup.tools, list) else None
    assert isinstance(tool, types.Tool) and tool.function_declarations is not None
    params = tool.function_declarations[0].parameters
    assert params is not None and params.properties is not None
    assert params.properties["unit"].nullable is True
    assert params.properties["days"].items == types.Schema(type=types.Type.INTEGER, minimum=1)


def test_setup_equals_what_the_sdk_sends_for_the_same_config() -> None:
    """Google's converter writes a mix of camel and snake case; the fake's parser reads both."""
    ours = setup_message(full_options(), handle="handle-1")
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        speech_config=types.SpeechConfig(
            voice_config=types.VoiceConfig(
                prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name="Kore")
            ),
            language_code="en-US",
        ),
        temperature=0.7,
        max_output_tokens=512,
        system_instruction=types.Content(parts=[types.Part(text="Be brief.")]),
        tools=[
            types.Tool(
                function_declarations=[
                    types.FunctionDeclaration.model_validate(
                        ours["setup"]["tools"][0]["functionDeclarations"][0]
                    )
                ]
            )
        ],
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(
                start_of_speech_sensitivity=types.StartSensitivity.START_SENSITIVITY_LOW,
                end_of_speech_sensitivity=types.EndSensitivity.END_SENSITIVITY_HIGH,
                prefix_padding_ms=40,
                silence_duration_ms=300,
            ),
            activity_handling=types.ActivityHandling.NO_INTERRUPTION,
            turn_coverage=types.TurnCoverage.TURN_INCLUDES_ALL_INPUT,
        ),
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
        context_window_compression=types.ContextWindowCompressionConfig(
            trigger_tokens=20000, sliding_window=types.SlidingWindow(target_tokens=10000)
        ),
        session_resumption=types.SessionResumptionConfig(handle="handle-1"),
    )
    theirs = sdk_setup("models/gemini-live-test", config)
    _, ours_normal = parse_client_message(ours)
    _, theirs_normal = parse_client_message(theirs)
    theirs_normal["systemInstruction"].pop("role", None)  # the SDK adds role "user"; optional
    assert ours_normal == theirs_normal


def test_defaults_ask_for_audio_transcripts_compression_and_resumption() -> None:
    setup = setup_message(GeminiLiveOptions(api_key=SecretStr("k" * 39)))["setup"]
    assert setup == {
        "model": "models/gemini-2.5-flash-native-audio-preview-12-2025",
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Puck"}}},
        },
        "inputAudioTranscription": {},
        "outputAudioTranscription": {},
        "contextWindowCompression": {"slidingWindow": {}},
        "sessionResumption": {},
    }
    check_client_frame(json.dumps({"setup": setup}))


def test_manual_activity_and_no_resumption() -> None:
    options = GeminiLiveOptions(
        api_key=SecretStr("k" * 39),
        activity_detection=ManualActivity(),
        session_resumption=False,
        context_window_compression=None,
        input_audio_transcription=False,
        response_modalities=["TEXT"],
        voice=None,
    )
    setup = setup_message(options, handle="ignored-when-off")["setup"]
    assert setup["realtimeInputConfig"] == {"automaticActivityDetection": {"disabled": True}}
    assert "sessionResumption" not in setup and "inputAudioTranscription" not in setup
    assert setup["generationConfig"] == {"responseModalities": ["TEXT"]}
    check_client_frame(json.dumps({"setup": setup}))


def test_json_schema_is_reduced_to_the_gemini_subset() -> None:
    schema = gemini_schema(WEATHER.parameters or {})
    assert "additionalProperties" not in schema and "$schema" not in schema
    assert schema["properties"]["unit"] == {"type": "string", "nullable": True, "enum": ["C", "F"]}
    types.Schema.model_validate(schema)


def test_options_validation_and_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-env-key-123456")
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    options = GeminiLiveOptions()
    assert options.api_key is not None
    assert options.api_key.get_secret_value() == "gemini-env-key-123456"
    assert "gemini-env-key" not in repr(options) and "gemini-env-key" not in str(
        options.model_dump()
    )
    monkeypatch.setenv("GOOGLE_API_KEY", "google-env-key-123456")
    assert GeminiLiveOptions().api_key == SecretStr("google-env-key-123456")  # the SDK's precedence
    with pytest.raises(ValidationError, match="exactly one"):
        GeminiLiveOptions(response_modalities=["AUDIO", "TEXT"])
    with pytest.raises(ValidationError, match="ws://"):
        GeminiLiveOptions(host="https://generativelanguage.googleapis.com")
    with pytest.raises(ValidationError):
        GeminiLiveOptions(voice_name="Kore")  # type: ignore[call-arg]  # unknown option


@pytest.mark.parametrize("pcm", [b"", b"\x00\x01", bytes(range(256)) * 4, b"\xfb\xff" * 320])
def test_pasted_audio_input_json_is_the_encoded_message(pcm: bytes) -> None:
    # The mic's hot path skips the JSON encoder; it must send the same message, and
    # one Google's SDK reads back as the same bytes.
    text = wire.audio_input_json(pcm, INPUT_MIME)
    assert json.loads(text) == wire.audio_input(pcm, INPUT_MIME)
    message = check_client_frame(text)
    assert message.realtime_input is not None and message.realtime_input.audio is not None
    assert message.realtime_input.audio.data == pcm
