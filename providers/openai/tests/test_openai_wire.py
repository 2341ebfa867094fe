"""The pure parts: client-event builders (against the SDK), error mapping, and the session book."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rtws_openai import wire
from rtws_openai.turns import BYTES_PER_MS, SessionBook

from providers.openai.tests.support import check_client_event
from rtws import AuthenticationError, ConnectionFailed, ConnectionLost, ProviderError
from rtws.conversation import SentenceSplitter as Sentences


@pytest.mark.parametrize(
    "event",
    [
        wire.append_audio(b"\x01\x00" * 480),
        wire.truncate("item_1", 1234),
        wire.truncate("item_1", -5, content_index=0),
        wire.cancel("resp_1"),
        wire.cancel(None),
        wire.user_text("Hello"),
        wire.assistant_text("Hi there."),
        wire.function_output("call_1", {"ok": True, "list": [1, 2]}),
        wire.function_output("call_1", "plain text"),
        wire.response_create(),
        wire.response_create(text_only=True),
    ],
    ids=lambda e: e["type"],
)
def test_client_events_are_valid_sdk_events(event: dict[str, Any]) -> None:
    check_client_event(event)
    check_client_event(wire.Outbox().stamp(event))


def test_truncate_never_goes_below_zero_and_results_are_json() -> None:
    assert wire.truncate("item_1", -5)["audio_end_ms"] == 0
    assert wire.function_output("c", {"é": 1})["item"]["output"] == '{"é": 1}'
    assert wire.function_output("c", None)["item"]["output"] == "null"


def test_outbox_names_the_refused_event() -> None:
    box = wire.Outbox(keep=2)
    first = box.stamp({"type": "response.cancel"})
    second = box.stamp({"type": "conversation.item.truncate"})
    assert first["event_id"] != second["event_id"]
    assert box.refused({"event_id": second["event_id"]}) == "conversation.item.truncate"
    box.stamp({"type": "response.create"})
    assert box.refused({"event_id": first["event_id"]}) is None  # only the last few are kept
    assert box.refused({"event_id": None}) is None


BAD = "invalid_request_error"


@pytest.mark.parametrize(
    ("error", "kind", "exception", "retryable"),
    [
        ({"type": BAD, "code": "invalid_api_key"}, "auth", AuthenticationError, False),
        ({"type": "authentication_error", "code": None}, "auth", AuthenticationError, False),
        ({"type": BAD, "code": "insufficient_quota"}, "account", ConnectionFailed, False),
        ({"type": BAD, "code": "session_expired"}, "session_end", ConnectionLost, True),
        ({"type": BAD, "code": "response_cancel_not_active"}, "benign", ProviderError, False),
        ({"type": "server_error", "code": None}, "request", ProviderError, False),
        ({"type": BAD, "code": "unknown_parameter"}, "request", ProviderError, False),
    ],
)  # fmt: skip
def test_error_mapping(
    error: dict[str, Any], kind: str, exception: type[Exception], retryable: bool
) -> None:
    error = {**error, "message": "Something.", "param": "session.x"}
    assert wire.error_kind(error) == kind
    exc = wire.error_exception(error)
    assert type(exc) is exception and exc.retryable is retryable
    assert "Something." in str(exc) and "param session.x" in str(exc)
    during = wire.error_exception(error, during="refused the session")
    if isinstance(during, ProviderError):
        assert during.fatal and str(during).startswith("OpenAI refused the session: Something.")


def test_token_usage_in_rtvi_terms() -> None:
    usage = {
        "input_tokens": 120,
        "output_tokens": 30,
        "total_tokens": 150,
        "input_token_details": {"cached_tokens": 64, "audio_tokens": 100},
    }
    assert wire.token_usage(usage) == {
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "total_tokens": 150,
        "cache_read_input_tokens": 64,
    }
    assert wire.token_usage({}) == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [('{"city": "Paris"}', {"city": "Paris"}), ("[1]", None), ("{oops", None), ("", None)],
)
def test_function_arguments(raw: str, parsed: dict[str, Any] | None) -> None:
    assert wire.arguments(raw) == parsed


def test_sentences_come_out_whole() -> None:
    split = Sentences()
    assert split.feed("Hello there") == []
    assert split.feed(". How are") == ["Hello there."]
    assert split.feed(" you? I'm") == ["How are you?"]
    assert split.feed(' fine." Bye') == ["I'm fine.\""]
    assert split.flush() == "Bye"
    assert split.flush() == ""
    assert Sentences().feed("3.14 is pi. 你好。世界") == ["3.14 is pi.", "你好。"]


def pcm_ms(ms: int) -> int:
    return ms * BYTES_PER_MS


def test_truncate_point_is_what_was_heard_never_more_than_received() -> None:
    book = SessionBook()
    book.response_started("resp_1")
    book.audio_received("item_1", "resp_1", 0, pcm_ms(800))
    item, end = book.truncate_point("item_1", played_ms=300) or (None, -1)
    assert item is not None and end == 300
    assert book.truncate_point("item_1", 300) is None  # truncated once only
    book.audio_received("item_2", "resp_1", 0, pcm_ms(500))
    assert book.truncate_point("item_2", played_ms=501) == (book.audio["item_2"], 500)
    book.audio_received("item_3", "resp_1", 0, pcm_ms(500))
    book.audio["item_3"].done = True
    assert book.truncate_point("item_3", played_ms=500) is None  # all of it was heard
    assert book.truncate_point("item_unknown", 10) is None
    assert book.truncate_point(None, 10) is None


def test_history_keeps_what_the_user_heard() -> None:
    book = SessionBook()
    book.remember("user", "Tell me a story.")
    book.audio_received("item_1", "resp_1", 0, pcm_ms(1000))
    for word in ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]:
        book.bot_delta("item_1", word + " ")
    book.truncate_point("item_1", 400)
    book.bot_done("item_1", "", interrupted=True)
    book.bot_done("item_2", "Never played.", interrupted=True)
    book.bot_done("item_3", "A whole reply. Done", interrupted=False)
    assert [(t.role, t.text) for t in book.history] == [
        ("user", "Tell me a story."),
        ("assistant", "one two three four"),
        ("assistant", "A whole reply. Done"),
    ]
    book.reset()
    assert book.history and not book.audio and book.response is None


def session(audio_input: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"input": audio_input}},
    }


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"type": "response.cancel", "bogus": 1}, id="unknown-field"),
        pytest.param(
            {"type": "response.create", "response": {"temperature": 0.8}}, id="beta-temperature"
        ),
        pytest.param(session({"vad": {}}), id="nested-unknown"),
        pytest.param(session({"noise_reduction": None}), id="null-not-taken"),
        pytest.param(
            {"type": "conversation.item.truncate", "item_id": "i", "audio_end_ms": 5}, id="missing"
        ),
        pytest.param({"type": "input_audio_buffer.append"}, id="empty"),
    ],
)
def test_the_sdk_check_catches_what_the_api_would_refuse(event: dict[str, Any]) -> None:
    with pytest.raises((AssertionError, ValueError)):
        check_client_event(event)


@pytest.mark.parametrize("pcm", [b"", b"\x00\x01", bytes(range(256)) * 4, b"\xfb\xff" * 480])
def test_pasted_append_json_is_the_encoded_event(pcm: bytes) -> None:
    # The mic's hot path skips the JSON encoder; it must produce the same event, and
    # bytes whose base64 holds "+" and "/" (0xfb 0xff) must survive the paste.
    text = wire.append_audio_json(pcm)
    assert json.loads(text) == wire.append_audio(pcm)
    check_client_event(json.loads(text))
