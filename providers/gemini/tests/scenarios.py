"""Legal Gemini Live server sequences, generated, and a runner that plays them to the provider.

A :class:`Turn` describes one user utterance and the model's reply in the
freedom the Live API reference gives the service: transcriptions are
"independent to the model turn" (before or after any ``modelTurn``, with or
without ``finished``), an ``outputTranscription`` may come after
``turnComplete``, ``interrupted`` may have no ``turnComplete`` after it,
``generationComplete`` is optional, ``usageMetadata`` may count thoughts.
:func:`messages` turns a list of them into server messages; :func:`play`
pushes them through a real :class:`FakeGeminiServer` over a real websocket
to a :class:`GeminiLiveTransport` with file media and returns what came out.

Words are unique per turn (``u2w1``, ``r2w3``), and each reply's audio is a
constant sample value of its own, so a transcript merged into the wrong turn
or a reply that was never played shows up exactly.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st
from rtws_gemini import GeminiLiveTransport
from rtws_gemini.testing import running_fake
from rtws_gemini.testing.wild import words_in_pieces

from providers.gemini.tests.genai_check import check_server_frame
from rtws import FileMediaManager
from tests import scenario_outcome
from tests.scenario_outcome import level, recorded

Json = dict[str, Any]
PART_MS = 60
#: The last message of every sequence: its metrics event says everything before was handled.
SENTINEL_PROMPT = 4242
SENTINEL: Json = {
    "usageMetadata": {
        "promptTokenCount": SENTINEL_PROMPT,
        "responseTokenCount": 1,
        "totalTokenCount": 4243,
    }
}


@dataclass(frozen=True)
class Turn:
    user_words: int  # words in the user's utterance
    input_pieces: int  # inputTranscription messages it comes in
    input_before: int  # of them, how many come before the first modelTurn (the rest after)
    finished: bool  # the last input piece says finished (the live service never does)
    reply_words: int
    parts: int  # modelTurn messages (one audio part each)
    transcript_first: tuple[bool, ...]  # per part: its transcript piece precedes its audio
    late_output: int  # outputTranscription pieces held until after turnComplete
    interrupted_after: int | None  # parts sent before `interrupted` (None: the reply completes)
    complete_after_interrupt: bool  # `turnComplete` follows `interrupted`
    generation_complete: bool
    thoughts: int  # usageMetadata.thoughtsTokenCount (0: absent)

    @property
    def interrupted(self) -> bool:
        return self.interrupted_after is not None

    def utterance(self, k: int) -> str:
        return " ".join(f"u{k}w{i}" for i in range(self.user_words))

    def reply(self, k: int) -> str:
        return " ".join(f"r{k}w{i}" for i in range(self.reply_words))

    def parts_sent(self) -> int:
        return self.parts if self.interrupted_after is None else self.interrupted_after


@st.composite
def turns(draw: st.DrawFn) -> Turn:
    user_words = draw(st.integers(1, 5))
    input_pieces = draw(st.integers(1, min(3, user_words)))
    reply_words = draw(st.integers(2, 6))
    parts = draw(st.integers(1, 4))
    pieces = min(parts, reply_words)
    interrupted_after = draw(st.none() | st.integers(1, parts))
    return Turn(
        user_words=user_words,
        input_pieces=input_pieces,
        input_before=draw(st.integers(0, input_pieces)),
        finished=draw(st.booleans()),
        reply_words=reply_words,
        parts=parts,
        transcript_first=tuple(draw(st.lists(st.booleans(), min_size=parts, max_size=parts))),
        late_output=0 if interrupted_after is not None else draw(st.integers(0, pieces - 1)),
        interrupted_after=interrupted_after,
        complete_after_interrupt=draw(st.booleans()),
        generation_complete=draw(st.booleans()),
        thoughts=draw(st.sampled_from([0, 0, 17, 250])),
    )


conversations = st.lists(turns(), min_size=1, max_size=3)


def _content(**fields: Any) -> Json:
    return {"serverContent": fields}


def audio_part(k: int) -> Json:
    pcm = np.full(24000 * PART_MS // 1000, level(k), dtype=np.int16).tobytes()
    data = base64.b64encode(pcm).decode()
    return _content(
        modelTurn={"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}]}
    )


def messages(conversation: list[Turn]) -> list[Json]:
    """The server messages of a conversation, in the order the turns describe."""
    out: list[Json] = []
    for k, turn in enumerate(conversation):
        heard = words_in_pieces(turn.utterance(k), turn.input_pieces)
        inputs = [{"text": piece} for piece in heard]
        if turn.finished:
            inputs[-1]["finished"] = True
        before, after = inputs[: turn.input_before], inputs[turn.input_before :]
        said = words_in_pieces(turn.reply(k), turn.parts)
        late = said[len(said) - turn.late_output :] if turn.late_output else []
        said = said[: len(said) - turn.late_output]
        out += [_content(inputTranscription=body) for body in before]
        for i in range(turn.parts_sent()):
            piece = said[i] if i < len(said) else None
            # A reply's first words before its audio AND before any sign of the user's turn
            # would be indistinguishable from the previous turn's late tail (item 2): the
            # service answers the user, whose input is transcribed or whose audio comes first.
            first = turn.transcript_first[i] and not (i == 0 and k > 0 and not before)
            if piece is not None and first:
                out.append(_content(outputTranscription={"text": piece}))
            out.append(audio_part(k))
            if i == 0:
                out += [_content(inputTranscription=body) for body in after]
            if piece is not None and not first:
                out.append(_content(outputTranscription={"text": piece}))
        if turn.interrupted:
            out.append(_content(interrupted=True))
            if turn.complete_after_interrupt:
                out.append(_content(turnComplete=True))
            continue
        if turn.generation_complete:
            out.append(_content(generationComplete=True))
        usage: Json = {"promptTokenCount": 10 + k, "responseTokenCount": 20 + k}
        if turn.thoughts:
            usage["thoughtsTokenCount"] = turn.thoughts
        usage["totalTokenCount"] = 30 + 2 * k + turn.thoughts
        out.append(
            {**_content(turnComplete=True, interactionStatus="IDLE"), "usageMetadata": usage}
        )
        out += [_content(outputTranscription={"text": piece}) for piece in late]
    return out


Outcome = scenario_outcome.Outcome[Turn]


async def _play(conversation: list[Turn], expect_audible: list[int]) -> Outcome:
    sequence = messages(conversation)
    for message in sequence:  # every scripted message is a legal LiveServerMessage
        check_server_frame(json.dumps(message))
    async with running_fake(playback_wait=0.0) as (server, options):
        media = FileMediaManager(None, input_rate=16000, realtime=False)
        transport = GeminiLiveTransport(options, media)
        events = recorded(transport)
        async with transport:
            for message in [*sequence, SENTINEL]:
                await server.push(message)
            async with asyncio.timeout(5):
                while not any(
                    e.type == "metrics"
                    and (e.to_dict()["data"].get("tokens") or [{}])[0]
                    .get("value", {})
                    .get("prompt_tokens")
                    == SENTINEL_PROMPT
                    for e in events
                ):
                    await asyncio.sleep(0.01)
            # Everything was handed to the player: let it play out (bounded, for a muted reply).
            if expect_audible:
                with contextlib.suppress(TimeoutError):
                    await media.wait_output_idle(idle_ms=50, timeout=1.5)
        return Outcome(conversation, events, media.output_audio())


def play(conversation: list[Turn], expect_audible: list[int] | None = None) -> Outcome:
    """Run ``conversation`` end to end (its own event loop: hypothesis calls this per example)."""
    return asyncio.run(_play(conversation, expect_audible or []))
