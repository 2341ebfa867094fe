"""Properties of the OpenAI provider under ANY legal server order (issue 17), with hypothesis.

Each test generates conversations (:mod:`.scenarios`), plays them through the
real fake over a real websocket, and checks invariants a user relies on.
A behaviour found broken is marked ``xfail(strict=True)`` naming its issue
item until the fix lands (none today). Examples are few and derandomized (CI
time; a strict xfail must not depend on luck).
"""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, Phase, example, given, settings

from providers.openai.tests.scenarios import (
    BYTES_PER_MS,
    DELTA_MS,
    Outcome,
    Turn,
    conversations,
    play,
)
from tests.scenario_outcome import check_quiet_after_disconnect, check_tokens

SETTINGS = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)

TIDY = Turn(
    user_words=3,
    transcript_at="before",
    reply_words=3,
    deltas=3,
    transcript_first=(False, False, False),
    barge_after=None,
    in_flight=0,
)
#: Speech mid-reply: the server cancels the response itself, two deltas still arrive.
BARGE_IN = dataclasses.replace(
    TIDY,
    deltas=4,
    transcript_first=(False, True, False, True),
    barge_after=2,
    in_flight=2,
    transcript_at="after",
)


def audible(conversation: list[Turn]) -> list[int]:
    return [k for k, t in enumerate(conversation) if not t.cancelled]


# ---------------------------------------------------------------- the invariants
def check_transcripts(outcome: Outcome) -> None:
    """Each utterance: exactly one final user-transcription, its own words."""
    finals = [d["text"] for d in outcome.data("user-transcription") if d.get("final")]
    finals.remove("sentinel")
    assert sorted(finals) == sorted(t.utterance(k) for k, t in enumerate(outcome.conversation))


def check_replies(outcome: Outcome) -> None:
    """One llm pair per response; a completed reply's bot-output is exactly its words, a
    cancelled one's at most one prefix of its own words."""
    turns = outcome.conversation
    llm = [e.type for e in outcome.events if e.type in ("bot-llm-started", "bot-llm-stopped")]
    assert llm == ["bot-llm-started", "bot-llm-stopped"] * len(turns)
    outputs = [d["text"].split() for d in outcome.data("bot-output") if d.get("spoken")]
    for k, turn in enumerate(turns):
        words = turn.reply(k).split()
        mine = [o for o in outputs if o and o[0].startswith(f"r{k}w")]
        if turn.cancelled:
            assert len(mine) <= 1 and all(o == words[: len(o)] for o in mine), mine
        else:
            assert mine == [words], outputs
    assert sum(1 for o in outputs if o) == sum(
        1 for k in range(len(turns)) for o in outputs if o and o[0].startswith(f"r{k}w")
    )


def check_audio(outcome: Outcome) -> None:
    """No audio of a cancelled reply after speech started; every other reply audible."""
    for k, turn in enumerate(outcome.conversation):
        sent_before = turn.heard_deltas() * DELTA_MS * 24
        played = outcome.samples_of(k)
        assert played <= sent_before, f"reply {k}: {played} samples played of {sent_before}"
        if not turn.cancelled:
            assert played >= sent_before // 2, f"reply {k} was not played"


def check_truncates(outcome: Outcome) -> None:
    """A truncate never claims more audio than was received before the cut, or played."""
    for event in outcome.received:
        if event.get("type") != "conversation.item.truncate":
            continue
        k = int(event["item_id"].removeprefix("item_a"))
        turn = outcome.conversation[k]
        received_ms = turn.heard_deltas() * DELTA_MS
        played_ms = outcome.samples_of(k) * 2 // BYTES_PER_MS
        assert event["audio_end_ms"] <= min(received_ms, played_ms), (event, played_ms)


def check_no_cancel_of_a_response_the_server_cancelled(outcome: Outcome) -> None:
    """Server VAD with ``interrupt_response`` cancels the response itself: the client sends
    the truncate only (a ``response.cancel`` is an error round trip)."""
    cancels = [e for e in outcome.received if e.get("type") == "response.cancel"]
    assert not cancels, cancels


# ---------------------------------------------------------------- properties
def test_the_tidy_order_and_a_barge_in_satisfy_the_harness() -> None:
    outcome = play([TIDY, TIDY], expect_audible=[0, 1])
    for check in (check_transcripts, check_replies, check_audio, check_tokens):
        check(outcome)


@SETTINGS
@example([BARGE_IN, TIDY])
@given(conversations())
def test_transcripts_replies_audio_truncates_and_tokens_hold_under_any_order(
    conversation: list[Turn],
) -> None:
    outcome = play(conversation, expect_audible=audible(conversation))
    check_transcripts(outcome)
    check_replies(outcome)
    check_audio(outcome)
    check_truncates(outcome)
    check_tokens(outcome)
    check_quiet_after_disconnect(outcome)


@SETTINGS
@example([BARGE_IN, TIDY])
@given(conversations())
def test_a_barge_in_the_server_handled_sends_no_response_cancel(
    conversation: list[Turn],
) -> None:
    check_no_cancel_of_a_response_the_server_cancelled(play(conversation))
