"""Options validation and the pure payloads, checked against the ``openai`` SDK's models."""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.realtime import (
    RealtimeSessionCreateRequest,
    SessionUpdateEvent,
    client_secret_create_params,
)
from pydantic import TypeAdapter, ValidationError
from rtws_openai import (
    CustomVoice,
    EphemeralToken,
    ForcedFunction,
    FunctionTool,
    InputTranscription,
    NoiseReduction,
    OpenAIRealtimeOptions,
    RetentionRatio,
    SemanticVAD,
    ServerVAD,
    client_secret_request,
    session_config,
)

from providers.openai.tests.support import check_client_event, extras
from rtws import ConfigurationError

KEY = "sk-test-secret-abcdef123456"
WEATHER = FunctionTool(
    name="get_weather",
    description="Weather",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)

VARIANTS = [
    pytest.param({}, id="defaults"),
    pytest.param(
        {
            "model": "gpt-realtime-2",  # reasoning and parallel_tool_calls need a reasoning model
            "instructions": "Be brief.",
            "voice": "cedar",
            "speed": 1.2,
            "turn_detection": SemanticVAD(eagerness="high", interrupt_response=False),
            "noise_reduction": NoiseReduction(type="far_field", strength=0.5),
            "output_modalities": ["text"],
            "tools": [WEATHER],
            "tool_choice": ForcedFunction(name="get_weather"),
            "max_output_tokens": 512,
            "parallel_tool_calls": True,
            "reasoning_effort": "low",
            "truncation": RetentionRatio(retention_ratio=0.8, post_instructions_token_limit=8000),
            "input_transcription": InputTranscription(
                model="gpt-transcribe",
                language="en",
                prompt="tech",
                languages=["en", "fr"],
                keywords=["rtws"],
                delay="low",
            ),
        },
        id="everything",
    ),
    pytest.param({"turn_detection": None, "input_transcription": None}, id="manual"),
    pytest.param(
        {
            "turn_detection": ServerVAD(
                threshold=0.6, silence_duration_ms=400, prefix_padding_ms=200, idle_timeout_ms=6000
            ),
            "voice": CustomVoice(id="voice_1234"),
            "noise_reduction": "near_field",
            "truncation": "disabled",
            "max_output_tokens": "inf",
            "tool_choice": "none",
        },
        id="server-vad-tuned",
    ),
]


@pytest.mark.parametrize("kwargs", VARIANTS)
def test_session_config_is_a_valid_sdk_session(kwargs: dict[str, Any]) -> None:
    options = OpenAIRealtimeOptions(api_key=KEY, **kwargs)
    session = session_config(options)
    model = RealtimeSessionCreateRequest.model_validate(session)
    assert not extras(model), extras(model)
    event = check_client_event({"type": "session.update", "session": session})
    assert isinstance(event, SessionUpdateEvent)
    assert isinstance(event.session, RealtimeSessionCreateRequest)
    audio = model.audio
    assert audio is not None and audio.input is not None and audio.output is not None
    for fmt in (audio.input.format, audio.output.format):
        assert fmt is not None and fmt.model_dump(exclude_none=True) == {
            "type": "audio/pcm",
            "rate": 24000,
        }
    assert "model" not in session  # chosen by the URL; session.update may not change it
    assert model.output_modalities == options.output_modalities


def test_session_config_says_what_the_options_say() -> None:
    options = OpenAIRealtimeOptions(api_key=KEY, **VARIANTS[1].values[0])  # type: ignore[arg-type]
    session = session_config(options)
    assert session["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "high",
        "create_response": True,
        "interrupt_response": False,
    }
    assert session["audio"]["input"]["noise_reduction"] == {"type": "far_field", "strength": 0.5}
    assert session["audio"]["output"] == {
        "format": {"type": "audio/pcm", "rate": 24000},
        "voice": "cedar",
        "speed": 1.2,
    }
    assert session["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert session["reasoning"] == {"effort": "low"}
    assert session["truncation"] == {
        "type": "retention_ratio",
        "retention_ratio": 0.8,
        "token_limits": {"post_instructions": 8000},
    }
    manual = session_config(OpenAIRealtimeOptions(api_key=KEY, turn_detection="none"))
    # Off means an explicit null: leaving the field out would keep the server's default VAD.
    assert manual["audio"]["input"]["turn_detection"] is None
    assert "noise_reduction" not in manual["audio"]["input"]  # off by default in a new session


def test_client_secret_request_matches_the_sdk() -> None:
    options = OpenAIRealtimeOptions(
        api_key=KEY, model="gpt-realtime-mini", ephemeral=EphemeralToken(expires_after_s=120)
    )
    body = client_secret_request(options)
    TypeAdapter(client_secret_create_params.ClientSecretCreateParams).validate_python(body)
    assert set(body) == {"expires_after", "session"}
    assert body["expires_after"] == {"anchor": "created_at", "seconds": 120}
    session = RealtimeSessionCreateRequest.model_validate(body["session"])
    assert not extras(session) and session.model == "gpt-realtime-mini"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"base_url": "ftp://api.openai.com/v1"}, "base_url"),
        ({"base_url": "not a url"}, "base_url"),
        ({"base_url": "https://x.test/v1?model=a"}, "base_url"),
        ({"speed": 3.0}, "speed"),
        ({"output_modalities": ["audio", "text"]}, "output_modalities"),
        ({"output_modalities": ["video"]}, "output_modalities"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"max_output_tokens": 5000}, "max_output_tokens"),
        ({"connect_timeout": -1}, "connect_timeout"),
        ({"chunk_ms": 1}, "chunk_ms"),
        ({"tools": [{"name": "bad name!"}]}, "tools"),
        ({"tools": [{"name": "f", "parameters": {"type": "string"}}]}, "tools"),
        ({"tools": [WEATHER, WEATHER]}, "duplicate function names"),
        ({"tool_choice": {"type": "function", "name": "nope"}}, "tool_choice"),
        ({"turn_detection": "push_to_talk"}, "turn_detection"),
        ({"turn_detection": {"type": "server_vad", "threshold": 2}}, "turn_detection"),
        ({"turn_detection": {"type": "semantic_vad", "eagerness": "eager"}}, "turn_detection"),
        ({"noise_reduction": "studio"}, "noise_reduction"),
        ({"input_transcription": {"language": "English"}}, "input_transcription"),
        ({"reasoning_effort": "maximal"}, "reasoning_effort"),
        ({"truncation": {"type": "retention_ratio", "retention_ratio": 1.5}}, "truncation"),
        ({"voice": " "}, "voice"),
        ({"auth_header": "basic"}, "auth_header"),
        ({"ephemeral": {"mode": "endpoint"}}, "ephemeral"),
        ({"ephemeral": {"expires_after_s": 5}}, "ephemeral"),
        ({"voice_typo": "x"}, "voice_typo"),
    ],
)
def test_bad_options_fail_at_construction_naming_the_field(
    kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        OpenAIRealtimeOptions(api_key=KEY, **kwargs)  # type: ignore[arg-type]
    assert field in str(info.value)


def test_shorthands_for_config_files() -> None:
    options = OpenAIRealtimeOptions.model_validate(
        {"api_key": KEY, "turn_detection": "semantic_vad", "noise_reduction": "far_field"}
    )
    assert options.turn_detection == SemanticVAD()
    assert options.noise_reduction == NoiseReduction(type="far_field")
    assert OpenAIRealtimeOptions(api_key=KEY, turn_detection="none").turn_detection is None
    assert OpenAIRealtimeOptions(api_key=KEY, turn_detection=None).interrupts


def test_urls_openai_and_azure() -> None:
    options = OpenAIRealtimeOptions(api_key=KEY)
    assert options.realtime_url() == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert options.rest_url("realtime/client_secrets") == (
        "https://api.openai.com/v1/realtime/client_secrets"
    )
    full = OpenAIRealtimeOptions(api_key=KEY, base_url="wss://proxy.test/v1/realtime")
    assert full.realtime_url() == "wss://proxy.test/v1/realtime?model=gpt-realtime"
    local = OpenAIRealtimeOptions(api_key=KEY, base_url="http://127.0.0.1:9/v1", model="m x")
    assert local.realtime_url() == "ws://127.0.0.1:9/v1/realtime?model=m+x"

    azure = OpenAIRealtimeOptions.azure("https://res.openai.azure.com/", "my-gpt-rt", api_key=KEY)
    assert azure.realtime_url() == "wss://res.openai.azure.com/openai/v1/realtime?model=my-gpt-rt"
    assert azure.rest_url("realtime/client_secrets") == (
        "https://res.openai.azure.com/openai/v1/realtime/client_secrets"
    )
    assert azure.headers() == {"api-key": KEY}
    legacy = OpenAIRealtimeOptions(
        api_key=KEY,
        base_url="https://res.openai.azure.com/openai",
        auth_header="api-key",
        extra_query={"api-version": "2025-04-01-preview", "deployment": "rt"},
    )
    assert legacy.realtime_url() == (
        "wss://res.openai.azure.com/openai/realtime?api-version=2025-04-01-preview&deployment=rt"
    )


def test_azure_key_from_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key-0123456789")
    options = OpenAIRealtimeOptions.azure("https://res.openai.azure.com", "rt")
    assert options.headers() == {"api-key": "azure-key-0123456789"}


def test_headers() -> None:
    options = OpenAIRealtimeOptions(api_key=KEY, extra_headers={"OpenAI-Project": "proj_1"})
    assert options.headers() == {"OpenAI-Project": "proj_1", "Authorization": f"Bearer {KEY}"}
    # A client secret is a Bearer token, also on Azure.
    azure = OpenAIRealtimeOptions.azure("https://r.openai.azure.com", "rt", api_key=KEY)
    assert azure.headers("ek_123456") == {"Authorization": "Bearer ek_123456"}
    assert "OpenAI-Beta" not in options.headers()  # the retired beta shape is never asked for


def test_no_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    options = OpenAIRealtimeOptions()
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        options.headers()


def test_key_from_environment_and_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    options = OpenAIRealtimeOptions(
        extra_headers={"Authorization": "Bearer hdr-secret-999999"},
        ephemeral=EphemeralToken(
            mode="endpoint",
            endpoint="https://app.test/token",  # type: ignore[arg-type]
            endpoint_headers={"Cookie": "session=cookie-secret-777777"},
        ),
    )
    assert options.api_key is not None and options.api_key.get_secret_value() == KEY
    for text in (repr(options), str(options), options.model_dump_json()):
        for secret in (KEY, "hdr-secret-999999", "cookie-secret-777777"):
            assert secret not in text
    assert options.headers()["Authorization"] == f"Bearer {KEY}"  # the option's header loses
    assert set(options.secrets()) == {KEY, "hdr-secret-999999", "session=cookie-secret-777777"}
