"""The conversation core on its own: provider events in, RTVI events and speaker commands out.

No socket, no sound card: a recording :class:`Output` stands in for the
transport, so each rule (replies, cut replies and late audio, speaking state,
transcripts, tool calls) is checked event by event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from rtws import rtvi
from rtws.audio import PlaybackMark
from rtws.conversation import MAX_SENTENCE, Conversation, SentenceSplitter, TextBuffer
from rtws.conversation import events as ev
from rtws.dispatch import TransportStats

PCM = b"\x01\x00" * 480  # 20 ms at 24 kHz


@dataclass
class Speaker:
    """The Output: records events; plays into a list of (item, bytes) a flush empties."""

    events: list[rtvi.RTVIMessage] = field(default_factory=list[rtvi.RTVIMessage])
    queued: list[tuple[str, int]] = field(default_factory=list[tuple[str, int]])
    played: list[str] = field(default_factory=list[str])
    ends: list[str | None] = field(default_factory=list[str | None])
    failures: list[str] = field(default_factory=list[str])
    listening: bool = True

    def emit(self, message: rtvi.RTVIMessage) -> None:
        self.events.append(message)

    def wants(self, event_type: str) -> bool:
        return self.listening

    def play(self, pcm: bytes, item_id: str) -> bool:
        self.queued.append((item_id, len(pcm)))
        self.played.append(item_id)
        return True

    def end_of_stream(self, item_id: str | None) -> None:
        self.ends.append(item_id)

    def flush(self) -> PlaybackMark:
        item = self.queued[-1][0] if self.queued else None
        dropped = sum(size for _, size in self.queued) // 48
        self.queued.clear()
        return PlaybackMark(item, 100 if item else 0, dropped, 24000)

    def mark(self) -> PlaybackMark:
        return PlaybackMark(self.queued[-1][0] if self.queued else None, 0, 0, 24000)

    def bot_started(self) -> None:
        pass

    def bot_stopped(self) -> None:
        pass

    def fail(self, message: str) -> None:
        self.failures.append(message)

    def types(self, *only: str) -> list[str]:
        return [e.type for e in self.events if not only or e.type in only]

    def of(self, kind: str) -> list[Any]:
        return [e for e in self.events if e.type == kind]


def make(
    bot_output: str = "reply", *, announced: bool = False
) -> tuple[Conversation, Speaker, TransportStats]:
    speaker, stats = Speaker(), TransportStats()
    clock = iter(range(1000))
    conv = Conversation(
        speaker,
        stats,
        provider="test",
        model=lambda: "m1",
        clock=lambda: float(next(clock)),
        bot_output=bot_output,
        announced_replies=announced,
    )
    return conv, speaker, stats


# ------------------------------------------------------------------ replies without wire ids
def test_idless_late_audio_is_dropped_and_the_next_reply_plays() -> None:
    # --8<-- [start:idless]
    conv, speaker, stats = make()
    conv.handle(ev.BotAudio(PCM))
    conv.handle(ev.BotAudio(PCM))
    first = speaker.played[0]
    conv.handle(ev.UserSpeechStarted())  # barge-in: the reply is cut
    conv.handle(ev.BotAudio(PCM))  # in flight when the user spoke: never played
    conv.handle(ev.BotAudio(PCM))
    assert stats.late_audio_dropped == 2 and speaker.played == [first, first]
    conv.handle(ev.UserSpeechStopped())  # a boundary: what comes next answers the user
    conv.handle(ev.BotAudio(PCM))
    assert speaker.played[-1] != first and stats.late_audio_dropped == 2
    assert speaker.types("bot-llm-started").count("bot-llm-started") == 2
    # --8<-- [end:idless]


@pytest.mark.parametrize(
    "boundary",
    [ev.ReplyStarted(), ev.AudioDone(), ev.ReplyDone(), ev.UserSpeechStopped()],
    ids=["reply-started", "audio-done", "reply-done", "user-stopped"],
)
def test_every_reply_boundary_makes_the_next_idless_audio_audible(boundary: Any) -> None:
    conv, speaker, _ = make()
    conv.handle(ev.BotAudio(PCM))
    conv.handle(ev.UserSpeechStarted())
    conv.handle(boundary)
    conv.handle(ev.BotAudio(PCM))
    assert len(speaker.played) == 2 and speaker.played[0] != speaker.played[1]


def test_announced_replies_late_audio_waits_for_the_next_reply_start() -> None:
    """A protocol that starts every reply explicitly (Deepgram): after a cut, its end of
    audio and the user's turn ending are not boundaries; only the next reply's start is."""
    conv, speaker, stats = make(announced=True)
    conv.handle(ev.ReplyStarted())
    conv.handle(ev.BotAudio(PCM))
    conv.handle(ev.UserSpeechStarted())
    conv.handle(ev.AudioDone())
    conv.handle(ev.BotAudio(PCM))
    conv.handle(ev.UserSpeechStopped())
    conv.handle(ev.BotAudio(PCM))
    conv.handle(ev.ReplyDone())
    conv.handle(ev.BotAudio(PCM))
    assert stats.late_audio_dropped == 3 and len(speaker.played) == 1
    the_next_announced_reply_plays(conv, speaker)


def test_announced_replies_a_barge_in_after_the_reply_ended_still_drops_its_late_audio() -> None:
    """Deepgram sends a reply's audio faster than real time and ends it (AgentAudioDone)
    while it still plays: a barge-in then cuts a reply the wire already closed, and audio
    until the next reply's start is still that reply's."""
    conv, speaker, stats = make(announced=True)
    conv.handle(ev.ReplyStarted())
    conv.handle(ev.BotAudio(PCM))
    conv.handle(ev.AudioDone())
    conv.handle(ev.ReplyDone())
    conv.handle(ev.UserSpeechStarted())
    conv.handle(ev.BotAudio(PCM))
    assert stats.late_audio_dropped == 1 and len(speaker.played) == 1
    the_next_announced_reply_plays(conv, speaker)


def the_next_announced_reply_plays(conv: Conversation, speaker: Speaker) -> None:
    conv.handle(ev.ReplyStarted())
    conv.handle(ev.BotAudio(PCM))
    assert len(speaker.played) == 2 and speaker.played[0] != speaker.played[1]


def test_idless_audio_after_audio_done_is_a_new_reply() -> None:
    conv, speaker, _ = make()
    conv.handle(ev.BotAudio(PCM))
    conv.handle(ev.AudioDone())
    conv.handle(ev.BotAudio(PCM))
    assert speaker.played[0] != speaker.played[1]
    assert speaker.types("bot-llm-started", "bot-llm-stopped") == [
        "bot-llm-started",
        "bot-llm-stopped",
        "bot-llm-started",
    ]


# ------------------------------------------------------------------ replies with wire ids
def test_wire_ids_late_audio_of_a_cut_reply_never_plays_the_next_one_does() -> None:
    conv, speaker, stats = make()
    conv.handle(ev.ReplyStarted("r1"))
    conv.handle(ev.BotAudio(PCM, "r1", "item1"))
    conv.handle(ev.UserSpeechStarted())
    conv.handle(ev.BotAudio(PCM, "r1", "item1"))
    conv.handle(ev.ReplyDone("r1"))
    conv.handle(ev.BotAudio(PCM, "r1", "item1"))  # even after its end
    conv.handle(ev.ReplyStarted("r2"))
    conv.handle(ev.BotAudio(PCM, "r2", "item2"))
    assert speaker.played == ["item1", "item2"] and stats.late_audio_dropped == 2


def test_a_reused_wire_id_is_dropped_forever_which_is_why_ids_must_be_unique() -> None:
    """The mutant the conformance kit must catch: one id for every reply."""
    conv, speaker, _ = make()
    conv.handle(ev.BotAudio(PCM, "same"))
    conv.handle(ev.UserSpeechStarted())
    conv.handle(ev.ReplyDone("same"))
    conv.handle(ev.BotAudio(PCM, "same"))
    assert speaker.played == ["same"]


def test_reply_events_in_order_and_tts_stops_at_the_interruption() -> None:
    conv, speaker, _ = make()
    conv.handle(ev.UserSpeechStarted())
    conv.handle(ev.UserSpeechStopped())
    conv.handle(ev.ReplyStarted("r1"))
    conv.handle(ev.BotAudio(PCM, "r1"))
    conv.handle(ev.BotAudio(PCM, "r1"))
    conv.handle(ev.UserSpeechStarted())
    conv.handle(ev.ReplyDone("r1"))
    assert speaker.types() == [
        "user-started-speaking",
        "user-stopped-speaking",
        "bot-llm-started",
        "metrics",  # ttfb: from the end of the user's turn to the first audio
        "bot-tts-started",
        "bot-started-speaking",
        "user-started-speaking",
        "bot-tts-stopped",
        "bot-interrupted",
        "bot-stopped-speaking",
        "bot-llm-stopped",
    ]
    (metrics,) = speaker.of("metrics")
    assert metrics.data.ttfb[0].value == 1.0 and metrics.data.ttfb[0].model == "m1"


def test_speaking_events_are_deduplicated_and_barge_in_can_be_off() -> None:
    conv, speaker, _ = make()
    conv.handle(ev.UserSpeechStarted(interrupt=False))
    conv.handle(ev.UserSpeechStarted(interrupt=False))
    conv.handle(ev.BotAudio(PCM))
    conv.handle(ev.UserSpeechStarted(interrupt=False))  # talking over the bot: it plays on
    conv.handle(ev.BotAudio(PCM))
    conv.handle(ev.UserSpeechStopped())
    conv.handle(ev.UserSpeechStopped())
    assert speaker.types("user-started-speaking", "user-stopped-speaking") == [
        "user-started-speaking",
        "user-stopped-speaking",
    ]
    assert len(speaker.played) == 2 and conv.bot_speaking and not conv.user_speaking


# ------------------------------------------------------------------ transcripts
def test_one_bot_output_per_reply_and_late_words_open_no_reply() -> None:
    conv, speaker, _ = make()
    conv.handle(ev.BotAudio(PCM))
    conv.handle(ev.BotText("Hello there. "))
    conv.handle(ev.BotText("Nice to meet you!"))
    conv.handle(ev.ReplyDone())
    conv.handle(ev.BotText(" (late words)"))  # after the end: a delta, no phantom reply
    assert [e.data.text for e in speaker.of("bot-output")] == ["Hello there. Nice to meet you!"]
    assert speaker.types("bot-llm-started").count("bot-llm-started") == 1
    assert speaker.of("bot-tts-text")[-1].data.text == " (late words)"


def test_the_items_of_one_reply_make_one_bot_output_with_a_space_between() -> None:
    """gpt-realtime-2 speaks a preamble item, then the answer, in one response."""
    conv, speaker, _ = make()
    conv.handle(ev.ReplyStarted("r1"))
    for text in ("Let me check.", "It is sunny."):
        conv.handle(ev.BotText(text, True, "r1"))
        conv.handle(ev.BotTextDone(text, True, "r1"))
    conv.handle(ev.ReplyDone("r1"))
    assert [e.data.text for e in speaker.of("bot-output")] == ["Let me check. It is sunny."]


def test_sentence_mode_emits_each_sentence_as_it_completes() -> None:
    conv, speaker, _ = make("sentence")
    conv.handle(ev.ReplyStarted())
    for delta in ["Hello there", ". How are", " you? I'm", ' fine." Bye']:
        conv.handle(ev.BotText(delta))
    conv.handle(ev.ReplyDone())
    assert [e.data.text for e in speaker.of("bot-output")] == [
        "Hello there.",
        "How are you?",
        "I'm fine.\"",
        "Bye",
    ]


def test_the_words_of_a_cut_reply_come_once_marked_interrupted() -> None:
    conv, speaker, _ = make()
    conv.handle(ev.BotAudio(PCM * 10))  # 200 ms received
    conv.handle(ev.BotText("One two three"))
    conv.handle(ev.UserSpeechStarted())  # the speaker says 100 ms were heard
    conv.handle(ev.BotText(" four five"))
    conv.handle(ev.ReplyDone())
    conv.handle(ev.BotText(" six"))  # late words of the cut reply: unheard, dropped
    (output,) = speaker.of("bot-output")
    assert output.data.text == "One two three four five"
    assert output.data.spoken_status == "interrupted" and output.data.spoken_progress == 0.5
    assert not [e for e in speaker.of("bot-tts-text") if e.data.text == " six"]


def test_user_transcript_deltas_make_one_final_per_utterance() -> None:
    conv, speaker, _ = make()
    conv.handle(ev.UserTranscript("what is"))
    conv.handle(ev.ReplyStarted())  # the model answers before the transcript is done
    conv.handle(ev.UserTranscript(" the weather"))
    conv.handle(ev.ReplyDone())
    conv.handle(ev.UserTranscript("", final=True))
    conv.handle(ev.UserTranscript("", final=True))  # nothing pending: nothing emitted
    finals = [e.data.text for e in speaker.of("user-transcription") if e.data.final]
    partials = [e.data.text for e in speaker.of("user-transcription") if not e.data.final]
    assert finals == ["what is the weather"] and partials == ["what is", "what is the weather"]
    conv.handle(ev.UserTranscript("hi", item_id="a"))
    conv.handle(ev.UserTranscript("hi there", final=True, item_id="a"))
    assert [e.data.text for e in speaker.of("user-transcription") if e.data.final][-1] == "hi there"


def test_sentence_splitting_is_linear_a_sentence_that_never_ends_is_cut() -> None:
    """Issue 16: 1,000 deltas of 200 bytes with no full stop re-split the whole text each
    time. Now the buffer never holds more than one capped sentence plus a delta."""
    splitter = SentenceSplitter()
    out: list[str] = []
    delta = "word " * 40  # 200 characters, no sentence end
    for _ in range(1000):
        out += splitter.feed(delta)
        assert len(splitter._buffer) <= MAX_SENTENCE + len(delta)  # pyright: ignore[reportPrivateUsage]
    rest = splitter.flush()
    assert all(len(s) <= MAX_SENTENCE for s in out)
    assert sum(len(s.split()) for s in [*out, rest]) == 40_000  # no word lost
    assert SentenceSplitter().feed("3.14 is pi. 你好。世界") == ["3.14 is pi.", "你好。"]


def test_text_buffer_is_capped() -> None:
    buffer = TextBuffer()
    for _ in range(10_000):
        buffer.add("x" * 100)
    assert len(buffer.text) == 20_000 and buffer.flush() and not buffer


# ------------------------------------------------------------------ tool calls
def test_function_calls_in_the_documented_order() -> None:
    conv, speaker, _ = make()
    conv.handle(ev.ReplyStarted("r1"))
    conv.handle(ev.FunctionCallStarted("c1", "weather", "r1"))
    conv.handle(ev.FunctionCallArguments("c1", "weather", {"city": "Oslo"}, "r1"))
    conv.handle(ev.FunctionCallStarted("c2", "lost", "r1"))  # arguments never complete
    conv.handle(ev.ReplyDone("r1"))
    assert conv.calls.waiting
    assert conv.calls.result("c1", {"t": 3})
    assert not conv.calls.waiting
    calls = [e for e in speaker.events if e.type.startswith("llm-function-call")]
    assert [(e.type, getattr(e.data, "tool_call_id", None)) for e in calls] == [
        ("llm-function-call-started", None),
        ("llm-function-call-in-progress", "c1"),
        ("llm-function-call-started", None),
        ("llm-function-call-stopped", "c2"),  # the reply ended first: cancelled
        ("llm-function-call-stopped", "c1"),
    ]
    assert calls[3].data.cancelled and not calls[4].data.cancelled
    assert calls[4].data.result == {"t": 3} and calls[4].data.function_name == "weather"


def test_a_cancelled_call_refuses_its_result_and_session_end_cancels_the_rest() -> None:
    conv, speaker, _ = make()
    conv.handle(ev.FunctionCallArguments("c1", "a", {}))
    conv.handle(ev.FunctionCallArguments("c2", "b", {}))
    conv.handle(ev.FunctionCallCancelled("c1"))
    assert not conv.calls.result("c1", "late") and conv.calls.cancelled("c1")
    conv.end_session()
    stopped = speaker.of("llm-function-call-stopped")
    assert [(e.data.tool_call_id, e.data.cancelled) for e in stopped] == [
        ("c1", True),
        ("c2", True),
    ]


@pytest.mark.parametrize(("call_id", "name"), [(None, "a"), (["c1"], "a"), ("c1", ["a"])])
def test_a_malformed_call_is_refused_before_it_enters_the_ledger(call_id: Any, name: Any) -> None:
    """Found by the fuzzer: an id that is not a string used to stay in the ledger and
    break the session's end (every open call is cancelled there, by id)."""
    conv, speaker, _ = make()
    with pytest.raises((TypeError, ValueError)):
        conv.handle(ev.FunctionCallArguments(call_id, name, {}))
    assert not conv.calls.open and not speaker.of("llm-function-call-started")
    conv.end_session()
    assert not speaker.of("llm-function-call-stopped")


# ------------------------------------------------------------------ usage, errors, sessions
def test_usage_errors_and_session_end() -> None:
    conv, speaker, _ = make()
    conv.handle(ev.Usage(10, 5))
    conv.handle(ev.ServerError("slow down"))
    conv.handle(ev.ServerError("gone", fatal=True))
    (metrics,) = speaker.of("metrics")
    assert metrics.data.tokens[0].value == {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
    }
    assert speaker.of("error")[0].data.error == "slow down" and speaker.failures == ["gone"]
    conv.handle(ev.BotAudio(PCM))
    conv.end_session()  # an open reply ends in events; the next session starts clean
    assert speaker.types()[-2:] == ["bot-tts-stopped", "bot-llm-stopped"]
    assert conv.reply is None
