"""What the fake accepts as ``Settings``: the real service's rules, as far as they are documented.

A message that does not parse is ``UNPARSABLE_CLIENT_MESSAGE``; one that
parses but asks for something impossible is ``INVALID_SETTINGS`` (Deepgram's
"Errors & Warnings" page). The fake carries linear16 only: another encoding
the service would accept is refused with a description saying so, rather
than decoded wrongly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

#: ``audio.input.encoding`` values the service documents (SDK ``AgentV1SettingsAudioInput``).
INPUT_ENCODINGS = frozenset(
    "linear16 linear32 flac alaw mulaw amr-nb amr-wb opus ogg-opus speex g729".split()  # noqa: SIM905
)
OUTPUT_ENCODINGS = frozenset("linear16 mulaw alaw mp3 opus flac aac".split())  # noqa: SIM905
THINK_PROVIDERS = frozenset(
    "open_ai aws_bedrock anthropic google groq deepgram".split()  # noqa: SIM905
)
SPEAK_PROVIDERS = frozenset("deepgram eleven_labs cartesia open_ai aws_polly".split())  # noqa: SIM905
SETTINGS_KEYS = frozenset(
    {"type", "tags", "experimental", "flags", "mip_opt_out", "audio", "agent"}
)
#: The input rate when ``audio.input`` is left out (SDK ``AgentV1SettingsAudio`` docstring).
DEFAULT_INPUT_RATE = 24000
DEFAULT_OUTPUT_RATE = 24000


class SettingsError(Exception):
    """An ``Error`` the server answers ``Settings`` with: ``code`` and ``description``."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """What the fake needs from accepted ``Settings``."""

    input_rate: int = DEFAULT_INPUT_RATE
    output_rate: int = DEFAULT_OUTPUT_RATE
    #: Function name → client side (True: the client answers the call).
    functions: dict[str, bool] = field(default_factory=dict[str, bool])
    prompt: str = ""
    greeting: str | None = None


def parse_settings(message: dict[str, Any]) -> SessionConfig:
    unknown = sorted(set(message) - SETTINGS_KEYS)
    if unknown:
        raise _unparsable(f"unknown field(s) in Settings: {', '.join(unknown)}")
    audio = _object(message.get("audio"), "audio", required=True)
    input_rate = _audio_input(_object(audio.get("input"), "audio.input"))
    output_rate = _audio_output(_object(audio.get("output"), "audio.output"))
    agent = _object(message.get("agent"), "agent", required=True)
    listen = _object(agent.get("listen"), "agent.listen")
    listen_provider = _object(listen.get("provider"), "agent.listen.provider")
    if listen_provider and listen_provider.get("type") != "deepgram":
        raise _invalid("agent.listen.provider.type must be 'deepgram'")
    functions: dict[str, bool] = {}
    prompt = ""
    for think in _one_or_more(agent.get("think"), "agent.think"):
        _provider(think, "agent.think", THINK_PROVIDERS)
        prompt = prompt or str(think.get("prompt") or "")
        for index, item in enumerate(_list(think.get("functions"), "agent.think.functions")):
            function = _object(item, f"agent.think.functions[{index}]", required=True)
            name = function.get("name")
            if not isinstance(name, str) or not name:
                raise _invalid(f"agent.think.functions[{index}].name is required")
            functions[name] = function.get("endpoint") is None
    for speak in _one_or_more(agent.get("speak"), "agent.speak"):
        _provider(speak, "agent.speak", SPEAK_PROVIDERS)
    greeting = agent.get("greeting")
    if greeting is not None and not isinstance(greeting, str):
        raise _unparsable("agent.greeting must be a string")
    return SessionConfig(input_rate, output_rate, functions, prompt, greeting or None)


def _audio_input(spec: dict[str, Any]) -> int:
    if not spec:
        return DEFAULT_INPUT_RATE
    encoding, rate = spec.get("encoding"), spec.get("sample_rate")
    if not isinstance(encoding, str) or not isinstance(rate, int) or isinstance(rate, bool):
        raise _unparsable("audio.input needs encoding (string) and sample_rate (integer)")
    if encoding not in INPUT_ENCODINGS:
        raise _invalid(f"audio.input.encoding {encoding!r} is not supported")
    if encoding != "linear16":
        raise _invalid(f"audio.input.encoding {encoding!r}: this fake server decodes linear16 only")
    return _rate(rate, "audio.input.sample_rate")


def _audio_output(spec: dict[str, Any]) -> int:
    encoding = spec.get("encoding", "linear16")
    if encoding not in OUTPUT_ENCODINGS:
        raise _invalid(f"audio.output.encoding {encoding!r} is not supported")
    if encoding != "linear16":
        raise _invalid(f"audio.output.encoding {encoding!r}: this fake server speaks linear16 only")
    if spec.get("container", "none") != "none":
        raise _invalid("audio.output.container: this fake server streams raw PCM only ('none')")
    rate = spec.get("sample_rate", DEFAULT_OUTPUT_RATE)
    if not isinstance(rate, int) or isinstance(rate, bool):
        raise _unparsable("audio.output.sample_rate must be an integer")
    return _rate(rate, "audio.output.sample_rate")


def _rate(rate: int, where: str) -> int:
    if not 8000 <= rate <= 48000:
        raise _invalid(f"{where} {rate} is out of range (8000 to 48000 Hz)")
    return rate


def _provider(spec: dict[str, Any], where: str, known: frozenset[str]) -> None:
    provider = _object(spec.get("provider"), f"{where}.provider", required=True)
    kind = provider.get("type")
    if kind not in known:
        raise _invalid(f"{where}.provider.type {kind!r} is not one of {', '.join(sorted(known))}")


def _object(value: Any, where: str, *, required: bool = False) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise _unparsable(f"{where} must be an object")
    return cast("dict[str, Any]", value)


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _unparsable(f"{where} must be a list")
    return cast("list[Any]", value)


def _one_or_more(value: Any, where: str) -> list[dict[str, Any]]:
    if value is None:
        raise _invalid(f"{where} is required")
    items = cast("list[Any]", value) if isinstance(value, list) else [value]
    return [_object(item, where, required=True) for item in items]


def _unparsable(text: str) -> SettingsError:
    return SettingsError("UNPARSABLE_CLIENT_MESSAGE", text)


def _invalid(text: str) -> SettingsError:
    return SettingsError("INVALID_SETTINGS", text)
