"""Legal OpenAI Realtime server sequences, generated, and a runner that plays them to the provider.

A :class:`Turn` is one user utterance (server VAD) and the response to it,
in the freedom the service has: the user's transcript (a separate ASR model)
completes before, during or after the response; transcript and audio deltas
interleave either way; speech may start mid-response, and then the server
cancels the response itself (``interrupt_response``) while a few deltas it had
already produced still arrive. :func:`segments` turns a list of turns into
server events (each checked against the ``openai`` SDK's models);
:func:`play` pushes them through a real :class:`FakeRealtimeServer` over a
real websocket to an :class:`OpenAIRealtimeTransport` with file media.

Words are unique per turn (``u2w1``, ``r2w3``) and each reply's audio is a
constant sample value of its own, so misattributed text or audio shows.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from hypothesis import strategies as st
from rtws_openai import OpenAIRealtimeTransport
from rtws_openai.testing import FakeRealtimeServer, ScriptedBot
from rtws_openai.testing import events as ev

from providers.openai.tests.support import options
from providers.openai.tests.test_fake_server import check_server_event
from rtws import FileMediaManager, rtvi
from tests import scenario_outcome
from tests.scenario_outcome import level, recorded

Json = dict[str, Any]
DELTA_MS = 40
BYTES_PER_MS = 48
SENTINEL_ITEM = "item_sentinel"
When = Literal["before", "during", "after"]


@dataclass(frozen=True)
class Turn:
    user_words: int
    transcript_at: When  # the user's transcript completes before / during / after the response
    reply_words: int
    deltas: int  # audio deltas of the full reply
    transcript_first: tuple[bool, ...]  # per delta: its transcript piece precedes its audio
    barge_after: int | None  # speech starts after this many deltas: the server cancels
    in_flight: int  # deltas of the cancelled reply that still arrive after speech started

    def utterance(self, k: int) -> str:
        return " ".join(f"u{k}w{i}" for i in range(self.user_words))

    def reply(self, k: int) -> str:
        return " ".join(f"r{k}w{i}" for i in range(self.reply_words)) + "."

    @property
    def cancelled(self) -> bool:
        return self.barge_after is not None

    def heard_deltas(self) -> int:
        """Deltas sent before speech started (all of them when not cancelled)."""
        return self.deltas if self.barge_after is None else self.barge_after


@st.composite
def turns(draw: st.DrawFn, last: bool = False) -> Turn:
    deltas = draw(st.integers(1, 5))
    barge = None if last else draw(st.none() | st.integers(1, deltas))
    return Turn(
        user_words=draw(st.integers(1, 4)),
        transcript_at=draw(st.sampled_from(["before", "during", "after"])),
        reply_words=draw(st.integers(1, 5)),
        deltas=deltas,
        transcript_first=tuple(draw(st.lists(st.booleans(), min_size=deltas, max_size=deltas))),
        barge_after=barge,
        in_flight=0 if barge is None else draw(st.integers(0, min(2, deltas - barge))),
    )


@st.composite
def conversations(draw: st.DrawFn) -> list[Turn]:
    first = draw(st.lists(turns(), min_size=0, max_size=2))
    return [*first, draw(turns(last=True))]


def _pieces(text: str, count: int) -> list[str]:
    words = text.split(" ")
    out: list[str] = []
    said = 0
    for i in range(count):
        upto = len(words) * (i + 1) // count
        out.append("".join(f"{' ' if j else ''}{words[j]}" for j in range(said, upto)))
        said = upto
    return out


def segments(conversation: list[Turn]) -> list[list[Json]]:
    """The server events, one list per turn (a turn's list ends after its response)."""
    parts: list[list[Json]] = []
    previous: str | None = None
    speaking = False  # speech_started of the next user item was already sent (a barge-in)
    for k, turn in enumerate(conversation):
        out: list[Json] = []
        parts.append(out)
        user, item, response = f"item_u{k}", f"item_a{k}", f"resp_{k}"
        if not speaking:
            out.append(ev.speech_started(1000 * k, user))
        out += [
            ev.speech_stopped(1000 * k + 600, user),
            ev.committed(user, previous),
            ev.item_added(ev.user_audio_item(user), previous),
        ]
        heard = turn.utterance(k)
        transcript = [
            ev.transcription_delta(user, heard),
            ev.transcription_completed(user, heard, 600),
        ]
        if turn.transcript_at == "before":
            out += transcript
        where = {"response_id": response, "item_id": item, "output_index": 0}
        audio_output = {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}
        shape: Json = {
            "conversation_id": "conv_1",
            "output_modalities": ["audio"],
            "max_output_tokens": "inf",
            "audio_output": audio_output,
        }
        out.append(ev.response_created(ev.response_object(response, status="in_progress", **shape)))
        out.append(ev.output_item_added(response, 0, ev.assistant_item(item, "in_progress", [])))
        out.append(ev.item_added(ev.assistant_item(item, "in_progress", []), user))
        out.append(ev.content_part_added(where, {"type": "audio", "transcript": ""}))
        pcm = np.full(DELTA_MS * 24, level(k), dtype=np.int16).tobytes()
        delta = base64.b64encode(pcm).decode()
        pieces = _pieces(turn.reply(k), turn.deltas)
        sent = turn.heard_deltas() + turn.in_flight
        spoken = ""
        for i in range(sent):
            if turn.transcript_first[i]:
                out.append(ev.transcript_delta(where, pieces[i]))
            out.append(ev.audio_delta(where, delta))
            if not turn.transcript_first[i]:
                out.append(ev.transcript_delta(where, pieces[i]))
            spoken += pieces[i]
            if i == 0 and turn.transcript_at == "during":
                out += transcript
            if turn.barge_after == i + 1:
                out.append(ev.speech_started(1000 * (k + 1), f"item_u{k + 1}"))
        status = "incomplete" if turn.cancelled else "completed"
        content = {"type": "output_audio", "transcript": spoken.strip()}
        out += [
            ev.audio_done(where),
            ev.transcript_done(where, spoken.strip()),
            ev.content_part_done(where, {"type": "audio", "transcript": spoken.strip()}),
        ]
        done_item = ev.assistant_item(item, status, [content])
        out += [ev.output_item_done(response, 0, done_item), ev.item_done(done_item, user)]
        usage = ev.usage(input_text=5, input_audio=6 + k, output_text=7, output_audio=sent * 2)
        details = {"type": "cancelled", "reason": "turn_detected"} if turn.cancelled else None
        final = ev.response_object(
            response,
            status="cancelled" if turn.cancelled else "completed",
            status_details=details,
            output=[done_item],
            usage=usage,
            **shape,
        )
        out.append(ev.response_done(final))
        if turn.transcript_at == "after":
            out += transcript
        previous, speaking = item, turn.cancelled
    parts[-1].append(ev.transcription_completed(SENTINEL_ITEM, "sentinel", 100))
    return parts


@dataclass
class Outcome(scenario_outcome.Outcome[Turn]):
    received: list[Json]  # what the provider sent the fake


async def _play(conversation: list[Turn], expect_audible: list[int]) -> Outcome:
    parts = segments(conversation)
    for part in parts:
        for event in part:
            check_server_event(event)
    async with FakeRealtimeServer(bot=ScriptedBot()) as server:
        media = FileMediaManager(None, realtime=False)
        transport = OpenAIRealtimeTransport(options(server), media)
        seen = recorded(transport)
        async with transport:
            for k, (turn, part) in enumerate(zip(conversation, parts, strict=True)):
                for event in part:
                    await server.send_event(event)
                if not turn.cancelled and k < len(conversation) - 1:
                    # The user speaks next only after hearing the reply (else it is a barge-in).
                    await _settle(seen, k + 1)
                    with contextlib.suppress(TimeoutError):
                        await media.wait_output_idle(idle_ms=20, timeout=2.0)
            async with asyncio.timeout(5):
                while not any(
                    e.type == "user-transcription" and e.to_dict()["data"]["text"] == "sentinel"
                    for e in seen
                ):
                    await asyncio.sleep(0.01)
            # Everything was handed to the player: let it play out (bounded, for a muted reply).
            if expect_audible:
                with contextlib.suppress(TimeoutError):
                    await media.wait_output_idle(idle_ms=50, timeout=1.5)
            received = list(server.received)
        return Outcome(conversation, seen, media.output_audio(), received)


async def _settle(seen: list[rtvi.RTVIMessage], replies: int) -> None:
    """Wait (bounded) until ``replies`` responses have ended in events."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(2.0):
            while sum(1 for e in seen if e.type == "bot-llm-stopped") < replies:
                await asyncio.sleep(0.005)


def play(conversation: list[Turn], expect_audible: list[int] | None = None) -> Outcome:
    """Run ``conversation`` end to end (its own event loop: hypothesis calls this per example)."""
    return asyncio.run(_play(conversation, expect_audible or []))
