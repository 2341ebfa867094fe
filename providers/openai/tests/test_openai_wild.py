"""OpenAI Realtime as it behaves in the wild (issue 17): one exact test per behaviour.

Item 7 is ``test_typed_text_cuts_off_the_bot_and_waits_for_its_cancel`` (the
fake now accepts the truncate of a still-streaming item, as the service does)
and the fake-side tests in ``test_fake_wild.py``; item 9 under any order is in
``test_openai_properties.py``. Each test fails without the provider's
handling of its behaviour (docs/providers/openai.md lists them).
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from rtws_openai import OpenAIRealtimeOptions
from rtws_openai.testing import FakeRealtimeServer, Reply, ScriptedBot
from rtws_openai.testing import events as ev

from providers.openai.tests.support import KEY, EventLog, mid_reply, steady_tone, transport
from providers.openai.tests.test_fake_server import check_server_event
from rtws import FileMediaManager, TransportState, rtvi

Json = dict[str, Any]


# ---------------------------------------------------------------- item 8
@pytest.mark.parametrize(
    ("model", "field"),
    [
        ("gpt-realtime", {"reasoning_effort": "low"}),
        ("gpt-realtime-1.5", {"parallel_tool_calls": True}),
        ("gpt-realtime-2025-08-28", {"reasoning_effort": "high"}),  # not a gpt-realtime-2
        ("gpt-4o-realtime-preview", {"reasoning_effort": "minimal"}),
    ],
)
def test_reasoning_fields_for_a_non_reasoning_model_are_refused_at_construction(
    model: str, field: Json
) -> None:
    with pytest.raises(ValidationError, match=next(iter(field))):
        OpenAIRealtimeOptions(api_key=KEY, model=model, **field)


def test_an_unknown_model_name_passes_the_reasoning_fields_through() -> None:
    """An Azure deployment name says nothing about the model behind it: no guess."""
    options = OpenAIRealtimeOptions.azure(
        "https://x.openai.azure.com", "my-voice-deployment", api_key="k", reasoning_effort="low"
    )
    assert options.supports_reasoning is None


async def test_a_reasoning_model_session_takes_reasoning_and_parallel_tool_calls() -> None:
    async with FakeRealtimeServer(bot=ScriptedBot()) as server:
        t = transport(
            server, model="gpt-realtime-2", reasoning_effort="high", parallel_tool_calls=False
        )
        log = EventLog(t)
        await t.connect()
        try:
            await server.wait_sent("session.updated")
        finally:
            await t.disconnect()
        assert t.session["reasoning"] == {"effort": "high"}
        assert not log.of("error")
        [update] = [e for e in server.received if e["type"] == "session.update"]
        assert update["session"]["parallel_tool_calls"] is False


# ---------------------------------------------------------------- item 9
async def test_server_vad_barge_in_sends_the_truncate_and_no_response_cancel(
    openai_fake: FakeRealtimeServer,
) -> None:
    """With ``interrupt_response`` the server has cancelled the reply itself when it says
    ``speech_started``: a ``response.cancel`` only earns a ``response_cancel_not_active``."""
    story = "A long story. " * 5
    async with mid_reply(openai_fake, story, ask="Tell me a story", into_s=0.3) as (_, media, _):
        media.feed(np.asarray(speech_like(), dtype=np.int16), 24000)  # the user talks over it
        await openai_fake.wait_received("conversation.item.truncate")
        await asyncio.sleep(0.2)
    kinds = [e["type"] for e in openai_fake.received]
    assert "response.cancel" not in kinds[: kinds.index("conversation.item.truncate") + 1]
    codes = [e["error"]["code"] for e in openai_fake.sent if e["type"] == "error"]
    assert "response_cancel_not_active" not in codes


def speech_like() -> np.ndarray[Any, np.dtype[np.int16]]:
    from providers.openai.tests.support import speech

    return np.concatenate([speech(), np.zeros(24000, dtype=np.int16)])


# ---------------------------------------------------------------- item 10
async def test_session_expired_after_the_time_limit_reconnects_and_goes_on() -> None:
    """The fake's 60-minute limit, time-scaled: ``session_expired`` then close 1001."""
    async with FakeRealtimeServer(bot=ScriptedBot([Reply.say("Still here.")])) as server:
        server.session_lifetime_s = 0.4
        t = transport(server)
        log = EventLog(t)
        await t.connect()
        server.session_lifetime_s = 3600.0  # the next session lasts
        try:
            await log.wait("reconnected", timeout=5.0)
            await t.send_text("Are you there?")
            await log.wait("bot-output", where=lambda d: d["text"] == "Still here.")
        finally:
            await t.disconnect()
        first = server.connections[0]
        assert first.close_code == 1001
        assert any(e.get("error", {}).get("code") == "session_expired" for e in first.sent)
        assert "60 minutes" in log.data("reconnecting")[0]["reason"]
        assert not [e for e in log.data("error") if e.get("fatal")]


async def test_rate_limit_exceeded_without_event_id_is_reported_and_the_session_goes_on(
    openai_fake: FakeRealtimeServer,
) -> None:
    openai_fake.bot = ScriptedBot([Reply.say("Fine.")])
    t = transport(openai_fake)
    log = EventLog(t)
    await t.connect()
    try:
        await openai_fake.rate_limit_error()
        error = await log.wait("error")
        await t.send_text("Still there?")
        await log.wait("bot-output", where=lambda d: d["text"] == "Fine.")
        state = t.state
    finally:
        await t.disconnect()
    data = error.to_dict()["data"]
    assert "rate limit" in data["error"].lower() and data["fatal"] is False
    assert state is TransportState.READY


# ---------------------------------------------------------------- item 11
def _late_transcript_and_a_call() -> list[Json]:
    """A spoken question answered with words and a function call; the user's transcript
    completes only after the response (a separate ASR model)."""
    where = {"response_id": "resp_q", "item_id": "item_say", "output_index": 0}
    call_where = {"response_id": "resp_q", "item_id": "item_call", "output_index": 1}
    shape: Json = {
        "conversation_id": "conv_1",
        "output_modalities": ["audio"],
        "max_output_tokens": "inf",
        "audio_output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"},
    }
    said = ev.assistant_item(
        "item_say", "completed", [{"type": "output_audio", "transcript": "Let me look."}]
    )
    call = ev.function_call_item("item_call", "completed", "lookup", "call_1", "{}")
    pcm = base64.b64encode(steady_tone(0.1).tobytes()).decode()
    return [
        ev.speech_started(0, "item_user"),
        ev.speech_stopped(900, "item_user"),
        ev.committed("item_user", None),
        ev.item_added(ev.user_audio_item("item_user"), None),
        ev.response_created(ev.response_object("resp_q", status="in_progress", **shape)),
        ev.output_item_added("resp_q", 0, ev.assistant_item("item_say", "in_progress", [])),
        ev.content_part_added(where, {"type": "audio", "transcript": ""}),
        ev.audio_delta(where, pcm),
        ev.transcript_delta(where, "Let me look."),
        ev.audio_done(where),
        ev.transcript_done(where, "Let me look."),
        ev.content_part_done(where, {"type": "audio", "transcript": "Let me look."}),
        ev.output_item_done("resp_q", 0, said),
        ev.output_item_added("resp_q", 1, {**call, "status": "in_progress", "arguments": ""}),
        ev.arguments_done(call_where, "call_1", "lookup", "{}"),
        ev.output_item_done("resp_q", 1, call),
        ev.response_done(
            ev.response_object("resp_q", status="completed", output=[said, call], **shape)
        ),
        ev.transcription_completed("item_user", "What is in stock?", 900),
    ]


async def test_replayed_history_keeps_conversation_order_and_function_calls(
    openai_fake: FakeRealtimeServer,
) -> None:
    openai_fake.bot = ScriptedBot([Reply.say("Two apples.")])
    t = transport(openai_fake)
    log = EventLog(t)
    await t.connect()
    try:
        for event in _late_transcript_and_a_call():
            await openai_fake.send_event(event)
        await log.wait("user-transcription", where=lambda d: d["final"])
        await t.send_message(
            rtvi.LLMFunctionCallResult(
                data=rtvi.LLMFunctionCallResultData(
                    function_name="lookup",
                    tool_call_id="call_1",
                    arguments={},
                    result={"apples": 2},
                )
            )
        )
        await log.wait("bot-output", where=lambda d: d["text"] == "Two apples.")
        await log.wait("bot-llm-stopped", count=2)
        await openai_fake.drop()
        await log.wait("reconnected")
        await openai_fake.wait_connection(2)
        await asyncio.sleep(0.1)
    finally:
        await t.disconnect()
    replayed = [
        e["item"]
        for e in openai_fake.connections[1].received
        if e["type"] == "conversation.item.create"
    ]
    summary = [(i["type"], i.get("role") or i.get("name") or i.get("call_id")) for i in replayed]
    assert summary == [
        ("message", "user"),
        ("message", "assistant"),
        ("function_call", "lookup"),
        ("function_call_output", "call_1"),
        ("message", "assistant"),
    ]


# ---------------------------------------------------------------- beyond the list
def _preamble_then_answer() -> list[Json]:
    """gpt-realtime-2 answers with a spoken preamble item, then the answer item, in ONE
    response (livekit-agents #5684; the Azure "GPT Realtime 2" page calls them phases)."""
    shape: Json = {
        "conversation_id": "conv_1",
        "output_modalities": ["audio"],
        "max_output_tokens": "inf",
        "audio_output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"},
    }
    out: list[Json] = [
        ev.response_created(ev.response_object("resp_p", status="in_progress", **shape))
    ]
    items: list[Json] = []
    for index, (item_id, text, value) in enumerate(
        [("item_pre", "Let me check.", 3000), ("item_ans", "It is sunny.", 5000)]
    ):
        where = {"response_id": "resp_p", "item_id": item_id, "output_index": index}
        pcm = base64.b64encode(np.full(2400, value, np.int16).tobytes()).decode()
        done = ev.assistant_item(
            item_id, "completed", [{"type": "output_audio", "transcript": text}]
        )
        items.append(done)
        out += [
            ev.output_item_added("resp_p", index, ev.assistant_item(item_id, "in_progress", [])),
            ev.content_part_added(where, {"type": "audio", "transcript": ""}),
            ev.audio_delta(where, pcm),
            ev.transcript_delta(where, text),
            ev.audio_done(where),
            ev.transcript_done(where, text),
            ev.content_part_done(where, {"type": "audio", "transcript": text}),
            ev.output_item_done("resp_p", index, done),
        ]
    out.append(
        ev.response_done(ev.response_object("resp_p", status="completed", output=items, **shape))
    )
    return out


async def test_a_response_with_a_preamble_item_plays_and_reports_both_items(
    openai_fake: FakeRealtimeServer,
) -> None:
    media = FileMediaManager(realtime=False)
    t = transport(openai_fake, media)
    log = EventLog(t)
    await t.connect()
    try:
        for event in _preamble_then_answer():
            check_server_event(event)
            await openai_fake.send_event(event)
        await log.wait("bot-llm-stopped")
        await media.wait_output_idle(idle_ms=50, timeout=3.0)
        played = media.output_audio()
    finally:
        await t.disconnect()
    # One bot-output per reply (issue 17's invariant), its two items joined, not glued.
    assert [d["text"] for d in log.data("bot-output")] == ["Let me check. It is sunny."]
    assert [e for e in log.types() if e.startswith("bot-llm")] == [
        "bot-llm-started",
        "bot-llm-stopped",
    ]
    assert np.count_nonzero(played == 3000) == 2400 and np.count_nonzero(played == 5000) == 2400
