"""Full duplex on laptop speakers: the echo test bed, the fake GA server, real devices.

``audio-sandbox echo on`` routes the virtual speaker back into the virtual
mic (a level, a delay, two room-like reflections), so a session on
``virtual_mic``/``virtual_speaker`` hears its own bot exactly as a laptop
without a headset does. The fake's server VAD then takes any echo the
canceller lets through for the user, and the transport interrupts the bot:
self-interruptions are counted from ``bot-interrupted`` events. What the
speaker played is captured from its monitor. Every test turns the echo on
inside :func:`echo_path`, which always removes it.

Figures (interruption delay, audible share, ERLE) are printed with ``-s``
and attached as report properties; only amounts and counts are asserted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from rtws_openai import OpenAIRealtimeTransport
from rtws_openai.testing import FakeRealtimeServer, Reply, ScriptedBot
from rtws_openai.testing.demo import espeak

from providers.openai.tests.support import RATE, EventLog
from rtws import rtvi, sandbox
from rtws.audio import write_wav
from rtws.media.sounddevice import SoundDeviceMediaManager
from rtws.sandbox_echo import echo_path, echo_routes

Int16Array = npt.NDArray[np.int16]
RecordProperty = Callable[[str, object], None]

# Never skipped for a missing espeak-ng: scripts/test.sh installs it, and a device test
# that passes by skipping proves nothing (the root conftest fails missing devices in CI).
pytestmark = pytest.mark.devices

REPLY_TEXT = (
    "The weather in Paris today is mild, with a light breeze from the west. Later this "
    "afternoon clouds will gather over the river, and a few showers may reach the north."
)
USER_WORDS = "excuse me could you stop for a moment please"
#: A 10 ms window of the monitor counts as audible above this RMS (about -50 dBFS).
AUDIBLE_RMS = 100.0


def audible_seconds(pcm: Int16Array, rate: int) -> float:
    """Seconds of 10 ms windows louder than :data:`AUDIBLE_RMS` (speech, not its pauses)."""
    n = rate // 100
    frames = pcm[: len(pcm) // n * n].astype(np.float64).reshape(-1, n)
    return float(np.count_nonzero(np.sqrt((frames**2).mean(axis=1)) > AUDIBLE_RMS)) / 100.0


def peak_correlation(audio: Int16Array, pattern: Int16Array) -> float:
    """The highest normalized cross-correlation of ``pattern`` anywhere in ``audio`` (0..1)."""
    a = audio.astype(np.float64)
    p = pattern.astype(np.float64)
    if len(a) < len(p):
        a = np.concatenate((a, np.zeros(len(p) - len(a))))
    size = 1 << int(np.ceil(np.log2(len(a) + len(p))))
    corr = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(p, size)), size)
    corr = corr[: len(a) - len(p) + 1]
    energy = np.concatenate(([0.0], np.cumsum(a * a)))
    window = energy[len(p) :] - energy[: len(a) - len(p) + 1]
    ncc = corr / (np.sqrt(np.maximum(window, 1e-9)) * np.linalg.norm(p))
    return float(np.max(ncc))


class ListeningBot(ScriptedBot):
    """Transcribes a user turn as :data:`USER_WORDS` only if it really carries that utterance.

    The words are known (the test spoke them with espeak-ng); what is checked is
    that the audio the server got in the user's turn *is* that utterance — found
    by cross-correlation despite the bot's echo on the mic — and not the bot's
    own voice or a fragment. Anything else is transcribed as a description of
    what was heard, which fails the test's comparison with a useful message.
    """

    def __init__(self, replies: Iterable[Reply], utterance: Int16Array) -> None:
        super().__init__(replies)
        self.utterance = utterance
        self.scores: list[float] = []

    async def transcribe(self, audio: Int16Array) -> str | None:
        score = await asyncio.to_thread(peak_correlation, audio, self.utterance)
        self.scores.append(score)
        if score >= 0.5:
            return USER_WORDS
        return f"(not the user's utterance: correlation {score:.2f}, {len(audio) / RATE:.1f} s)"


@pytest.fixture(scope="module")
def reply_audio() -> Int16Array:
    audio = espeak(REPLY_TEXT)
    assert len(audio) / RATE >= 6.0, "the reply must last at least 6 s"
    return audio


@pytest.fixture(scope="module")
def utterance_wav(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Int16Array]:
    audio = espeak(USER_WORDS + ".", voice="en-gb")
    path = tmp_path_factory.mktemp("echo") / "user.wav"
    write_wav(path, audio, RATE)
    return path, audio


async def ask_for_reply(transport: OpenAIRealtimeTransport, log: EventLog) -> float:
    """Make the bot answer (a typed question: the user stays silent); when it began to speak."""
    await transport.send_message(rtvi.SendText(data=rtvi.SendTextData(content="The weather?")))
    await log.wait("bot-started-speaking", timeout=10)
    return time.perf_counter()


def report(record_property: RecordProperty, name: str, value: float, unit: str) -> None:
    record_property(name, round(value, 1))
    print(f"\n[measured] {name} = {value:.1f} {unit}")


@pytest.mark.parametrize(("level_db", "delay_ms"), [(-10, 40), (-3, 120)])
async def test_a_long_reply_to_a_silent_user_never_interrupts_itself(
    openai_fake: FakeRealtimeServer,
    device_session: Callable[[], OpenAIRealtimeTransport],
    reply_audio: Int16Array,
    level_db: int,
    delay_ms: int,
    record_property: RecordProperty,
) -> None:
    openai_fake.bot = ScriptedBot([Reply.say(REPLY_TEXT, reply_audio)])
    transport = device_session()
    log = EventLog(transport)
    with echo_path(level_db, delay_ms):
        assert len(echo_routes()) == 3  # the direct echo and two reflections
        await transport.connect()
        assert transport.media.echo_cancellation, "sound devices cancel echo by default"
        with sandbox.Listener(sandbox.SD_SPEAKER_MONITOR) as ear:
            await ask_for_reply(transport, log)
            await log.wait("bot-stopped-speaking", timeout=len(reply_audio) / RATE + 10)
        stats = transport.media.stats.echo
        await transport.disconnect()
    assert echo_routes() == []
    assert log.of("bot-interrupted") == [], f"the bot interrupted itself; {log.types()}, {stats}"
    assert log.of("user-started-speaking") == []
    share = audible_seconds(ear.audio(), ear.rate) / audible_seconds(reply_audio, RATE)
    assert stats is not None and stats.frames > 0
    report(record_property, f"audible_share_{-level_db}dB_{delay_ms}ms", 100 * share, "%")
    report(record_property, f"erle_{-level_db}dB_{delay_ms}ms", stats.erle_db or 0.0, "dB")
    print(f"[measured] echo delay estimate {stats.delay_ms} ms")
    assert share >= 0.8, f"only {share:.0%} of the reply was audible on the speaker"


async def test_without_cancellation_the_same_echo_interrupts_the_bot(
    openai_fake: FakeRealtimeServer,
    device_session: Callable[[], OpenAIRealtimeTransport],
    reply_audio: Int16Array,
) -> None:
    """The control: the test bed's echo really is loud enough to be taken for the user."""
    openai_fake.bot = ScriptedBot([Reply.say(REPLY_TEXT, reply_audio)])
    transport = device_session()
    transport.options.echo_cancellation = False
    log = EventLog(transport)
    with echo_path(-10, 40):
        await transport.connect()
        assert not transport.media.echo_cancellation
        await ask_for_reply(transport, log)
        await log.wait("bot-interrupted", timeout=5)
        await transport.disconnect()


async def test_the_user_talking_over_the_reply_interrupts_it_once(
    openai_fake: FakeRealtimeServer,
    device_session: Callable[[], OpenAIRealtimeTransport],
    reply_audio: Int16Array,
    utterance_wav: tuple[Path, Int16Array],
    record_property: RecordProperty,
) -> None:
    path, utterance = utterance_wav
    bot = ListeningBot([Reply.say(REPLY_TEXT, reply_audio), Reply.say("Sure.")], utterance)
    openai_fake.bot = bot
    transport = device_session()
    log = EventLog(transport)
    interrupted_at = log.clock("bot-interrupted")
    # Where the speech starts inside the WAV (espeak leads with a little silence).
    lead_in = audible_onset(utterance, RATE)
    with echo_path(-10, 40):
        await transport.connect()
        started = await ask_for_reply(transport, log)
        await asyncio.sleep(max(0.0, started + 2.0 - time.perf_counter()))
        fed_at = time.perf_counter()
        await sandbox.afeed(path)
        final = await log.wait("user-transcription", where=lambda d: d["final"], timeout=10)
        await asyncio.sleep(1.0)
        await transport.disconnect()
    assert len(interrupted_at) == 1, f"{len(interrupted_at)} interruptions, expected exactly one"
    # paplay starts a little after fed_at: the delay measured is an upper bound.
    delay_ms = (interrupted_at[0] - (fed_at + lead_in)) * 1000.0
    report(record_property, "barge_in_delay", delay_ms, "ms")
    print(f"[measured] utterance correlation in the user's turn: {bot.scores}")
    assert 0 < delay_ms <= 600, f"the interruption came {delay_ms:.0f} ms after the user began"
    assert final.to_dict()["data"]["text"] == USER_WORDS


async def test_a_speaker_switch_mid_reply_still_never_interrupts_itself(
    openai_fake: FakeRealtimeServer,
    device_session: Callable[[], OpenAIRealtimeTransport],
    reply_audio: Int16Array,
    record_property: RecordProperty,
) -> None:
    """Switch to the ALSA ``pulse`` device (same sink, so the echo stays) at another rate."""
    openai_fake.bot = ScriptedBot([Reply.say(REPLY_TEXT, reply_audio)])
    transport = device_session()
    log = EventLog(transport)
    media = transport.media
    assert isinstance(media, SoundDeviceMediaManager)
    with echo_path(-10, 40):
        await transport.connect()
        speaker = media.selected_speaker
        assert speaker is not None
        old_rate = media.output_rate or speaker.default_sample_rate
        with sandbox.Listener(sandbox.SD_SPEAKER_MONITOR) as ear:
            started = await ask_for_reply(transport, log)
            await asyncio.sleep(max(0.0, started + 2.0 - time.perf_counter()))
            media.output_rate = 48000 if old_rate != 48000 else 32000
            await transport.update_speaker("pulse")
            await log.wait("bot-stopped-speaking", timeout=len(reply_audio) / RATE + 10)
        stats = media.stats.echo
        await transport.disconnect()
    assert log.of("bot-interrupted") == [], "the bot interrupted itself after the switch"
    assert stats is not None and stats.resyncs >= 1
    share = audible_seconds(ear.audio(), ear.rate) / audible_seconds(reply_audio, RATE)
    report(record_property, "audible_share_switch", 100 * share, "%")
    assert share >= 0.8, f"only {share:.0%} of the reply was audible across the switch"


def audible_onset(pcm: Int16Array, rate: int) -> float:
    n = rate // 100
    frames = pcm[: len(pcm) // n * n].astype(np.float64).reshape(-1, n)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) > 10 * AUDIBLE_RMS)
    return float(loud[0]) / 100.0 if len(loud) else 0.0
