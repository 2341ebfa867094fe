"""Wild mode: the fake behaves the way the OpenAI Realtime service does, not in one tidy order.

What the service really does that a tidy fake hides (OpenAI Realtime API
reference; openai-agents' and pipecat's realtime code, which handle each):

* the user's ``input_audio_transcription.completed`` is produced by a separate
  ASR model and may arrive after the assistant's whole reply;
* after ``input_audio_buffer.speech_started`` cancels a reply, deltas the
  server had already produced still arrive (the client must not play them);
* transcript and audio deltas are separate streams: a transcript piece may
  come before its audio;
* deltas come in bursts, not at an even pace;
* ``rate_limits.updated`` is informational and not sent with every response.

A :class:`Wild` makes those choices from a seeded random generator, so a
failing run is replayed exactly by its seed (``RTWS_WILD_SEED``).
"""

from __future__ import annotations

from dataclasses import dataclass

from rtws.testing.wild import SEED_ENV, SeededWild, seed_from_env

__all__ = ["SEED_ENV", "Wild", "seed_from_env"]


@dataclass
class Wild(SeededWild):
    """Seeded disorder within what the Realtime protocol allows.

    Args:
        seed: the random seed; the same seed gives the same choices.
        late_transcript: chance that a user transcript completes after the reply's
            ``response.done``.
        in_flight: the most audio deltas still sent after speech cancelled a reply.
        transcript_first: chance that a transcript delta comes before its audio.
        max_delay_s: the longest pause between two deltas.
    """

    late_transcript: float = 0.5
    in_flight: int = 2
    transcript_first: float = 0.3
    max_delay_s: float = 0.005

    def deltas_in_flight(self) -> int:
        return self.rng.randint(0, self.in_flight)
