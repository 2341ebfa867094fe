"""Acoustic echo cancellation: the bot's voice, played on laptop speakers, out of the mic.

Without it a session on speakers hears itself: the mic picks up the reply,
server VAD takes it for the user, and the bot interrupts itself about once
a second. The canceller is WebRTC's AEC3 (the one browsers run) through the
``pywebrtc-audio`` wheel; why that wheel is in docs/concepts/media.md.

Where it sits decides whether it works, so this class takes exactly:

* the far end: every block handed to the output device — after the playout
  buffer, including the silence after an interruption — with the time its
  first sample reaches the DAC (:meth:`add_reference`, from the output
  callback's thread: it only queues);
* the mic at the device rate, before any resampling, metering, gate or VAD,
  with the time its first sample left the ADC (:meth:`process`, on one
  consumer thread, which also owns the WebRTC processor: that is not
  thread-safe).

:class:`~rtws.audio.timeline.ReferenceTimeline` lines the two up by those
timestamps. Each mic block is paired with the reference that played from
its capture time *plus* ``lead_ms``: AEC3 finds an echo that comes after its
reference (by up to a few hundred ms), never one that comes before it, and
timestamps can be off by ten milliseconds or so (measured on the test bed:
the echo's delay read 12 ms short at 44.1 kHz). The lead keeps the reference
ahead of the echo despite that; the room's own delay only adds to it. The
output callback hands a block over an output latency before it plays
(usually 20-40 ms), so that reference is normally there when the mic block
is processed; if not, the block waits for it, up to :data:`MAX_WAIT_S`.

AEC3 delays the mic by a constant 8 ms at 16 kHz, 9 ms at 48 kHz (its filter
bank; measured), plus the ~0.3 ms a 20 ms block takes to process.

It also measures itself (:class:`EchoStats`): the echo return loss
enhancement (mic power over cleaned power while the far end plays) and the
echo's delay (cross-correlating the last second of reference and mic, every
three seconds).
The wheel exposes neither from AEC3, so these are rtws's own measurements.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import ConfigurationError
from ..redact import get_logger
from .resample import StreamResampler
from .timeline import ReferenceTimeline

log = get_logger("rtws.media")

Int16Array = npt.NDArray[np.int16]

#: Reference blocks queued by the output thread before the oldest is dropped (~4 s at 20 ms).
MAX_QUEUED_REFERENCE = 200
#: Mic time a block waits for its reference before it is processed without (a speaker
#: that stalled or went away must not hold the mic back for long).
MAX_WAIT_S = 0.06
#: Far-end frames quieter than this (mean square of int16 samples, ~-60 dBFS) are
#: "the bot is silent": they do not count towards the ERLE.
_FAR_ACTIVE_POWER = (32768 * 10 ** (-60 / 20)) ** 2
_DELAY_RATE = 8000  # the delay estimate correlates at this rate
_DELAY_WINDOW_S = 1.0  # over the last second of audio
_DELAY_EVERY_S = 3.0  # every three seconds (an estimate costs ~2 ms at 48 kHz)
_DELAY_MAX_S = 0.5
_DELAY_PEAK_RATIO = 12.0
#: A new speaker is a new echo path, and AEC3 lets echo through while it re-learns
#: it (a switch mid-reply on the test bed sometimes interrupted the bot). For this
#: much bot speech after a speaker switch, frames where the bot is audible are also
#: turned down by RELEARN_GAIN. Only after a switch: at a session's start it would
#: also turn down a user heard while the bot speaks.
RELEARN_S = 1.0
RELEARN_GAIN = 0.1  # -20 dB
#: Seconds between two debug-log lines about the canceller.
LOG_INTERVAL = 5.0


def canceller_available() -> str | None:
    """Why echo cancellation cannot run here, or None when it can."""
    try:
        import pywebrtc_audio  # noqa: F401  # pyright: ignore[reportUnusedImport]
    except ImportError as exc:
        return f"the pywebrtc-audio package is not installed or has no build here ({exc})"
    return None


def echo_wanted(wanted: bool | None, *, default: bool, supported: bool, backend: str) -> bool:
    """Whether a media backend runs the canceller, from ``options.echo_cancellation``.

    ``None`` follows the backend's default (on for sound devices). Where the
    canceller cannot load, that default falls back to off with a warning, while
    an explicit ``True`` fails, as it does on a backend with no speaker a mic
    could hear.
    """
    if wanted is False or (wanted is None and not default):
        return False
    if not supported:
        raise ConfigurationError(
            f"echo_cancellation=True needs sound devices; {backend} has no speaker that a "
            "mic could hear (its input and output never meet)"
        )
    problem = canceller_available()
    if problem is not None:
        if wanted:
            raise ConfigurationError(f"echo_cancellation=True cannot run: {problem}")
        log.warning("echo cancellation is off: %s", problem)
        return False
    return True


@dataclass(slots=True)
class EchoStats:
    """What the canceller does, for ``media.stats.echo``, the debug log and the live view."""

    sample_rate: int = 0
    frames: int = 0
    #: Echo return loss enhancement (dB): how much quieter the mic got while the bot spoke.
    erle_db: float | None = None
    #: The echo's delay after the speaker's DAC (ms), from cross-correlation; None until found.
    delay_ms: float | None = None
    #: Mic samples whose reference had not arrived yet (processed against silence).
    late_reference_samples: int = 0
    #: Device switches and timestamp jumps (stalls, mute) that re-anchored the alignment.
    resyncs: int = 0
    dropped_reference_blocks: int = 0


class EchoCanceller:
    """One session's AEC3 at the mic's device rate; see the module docstring for the contract."""

    def __init__(
        self,
        mic_rate: int,
        *,
        noise_suppression: bool = False,
        lead_ms: float = 20.0,
    ) -> None:
        from pywebrtc_audio import AudioProcessor

        self.rate = mic_rate
        self.frame = max(1, mic_rate // 100)  # AEC3 works on 10 ms frames
        self.lead_s = lead_ms / 1000.0
        self.noise_suppression = noise_suppression
        self._apm = AudioProcessor(
            sample_rate=mic_rate,
            echo_cancellation=True,
            noise_suppression=noise_suppression,
            high_pass_filter=True,
        )
        self._timeline = ReferenceTimeline(mic_rate)
        self._queue: collections.deque[tuple[Int16Array, float, int]] = collections.deque()
        self._queue_lock = threading.Lock()
        self._ref_resampler: StreamResampler | None = None
        self._switches = 0
        self._logged_at = -LOG_INTERVAL
        # Mic blocks (and where their reference starts) waiting for the reference to play.
        self._waiting: collections.deque[tuple[Int16Array, int]] = collections.deque()
        self._max_wait = round(mic_rate * MAX_WAIT_S)
        # Mic samples (and their reference) waiting for a whole 10 ms frame.
        self._carry_mic = np.zeros(0, dtype=np.int16)
        self._carry_far = np.zeros(0, dtype=np.int16)
        # ERLE: exponentially averaged powers over far-active frames (~2 s).
        self._p_in = 0.0
        self._p_out = 0.0
        # Delay estimate: the last second of (far, mic) as the APM saw them.
        self._hist_far: collections.deque[Int16Array] = collections.deque()
        self._hist_mic: collections.deque[Int16Array] = collections.deque()
        self._hist_len = 0
        self._hist_needed = round(mic_rate * _DELAY_WINDOW_S)
        self._since_estimate = 0
        self._relearn_frames = 0
        self.stats = EchoStats(sample_rate=mic_rate)

    # ------------------------------------------------------------ output thread
    def add_reference(self, block: Int16Array, dac_time: float, rate: int) -> None:
        """Queue a block just handed to the speaker (any thread; never waits for the consumer)."""
        with self._queue_lock:
            if len(self._queue) >= MAX_QUEUED_REFERENCE:
                self._queue.popleft()
                self.stats.dropped_reference_blocks += 1
            self._queue.append((block.copy(), dac_time, rate))

    # ------------------------------------------------------------ consumer thread
    def process(self, mic: Int16Array, adc_time: float) -> Int16Array:
        """The mic with the echo removed, as far as its reference has arrived.

        Returns whole 10 ms frames, in order. A block whose reference (up to
        ``lead_ms`` past its end) has not been played yet waits for it, at
        most :data:`MAX_WAIT_S` of mic time; after that it is processed with
        silence for the missing part, which is counted as late.
        """
        self._take_reference()
        timeline = self._timeline
        start = timeline.locate(len(mic), adc_time + self.lead_s)
        self._waiting.append((mic, start))
        newest_end = start + len(mic)
        ready: list[tuple[Int16Array, Int16Array]] = []
        while self._waiting:
            block, at = self._waiting[0]
            if at + len(block) > timeline.written_until and newest_end - at < self._max_wait:
                break  # its reference is still on its way to the speaker
            self._waiting.popleft()
            late_before = timeline.late_samples
            ready.append((block, timeline.read_at(at, len(block))))
            self.stats.late_reference_samples += timeline.late_samples - late_before
        self.stats.resyncs = timeline.read_resyncs + timeline.write_resyncs + self._switches
        if not ready:
            return np.zeros(0, dtype=np.int16)
        mic = np.concatenate([self._carry_mic, *(m for m, _ in ready)])
        far = np.concatenate([self._carry_far, *(f for _, f in ready)])
        whole = len(mic) - len(mic) % self.frame
        self._carry_mic, self._carry_far = mic[whole:], far[whole:]
        if not whole:
            return np.zeros(0, dtype=np.int16)
        mic, far = mic[:whole], far[:whole]
        out: Int16Array = self._apm.process(mic, far)
        if self._relearn_frames > 0:
            out = self._while_relearning(far, out)
        self._measure(mic, far, out)
        return out

    def log_now_and_then(self) -> None:
        """A debug line with the figures, at most every :data:`LOG_INTERVAL` (consumer thread)."""
        now = time.monotonic()
        if now - self._logged_at < LOG_INTERVAL:
            return
        self._logged_at = now
        st = self.stats
        log.debug(
            "echo canceller at %d Hz: ERLE %s dB, echo delay %s ms, %d late reference samples, "
            "%d resyncs",
            st.sample_rate,
            st.erle_db,
            st.delay_ms,
            st.late_reference_samples,
            st.resyncs,
        )

    def resync(self, *, new_speaker: bool = False) -> None:
        """A device was switched: align on the next timestamps; AEC3 re-learns the path.

        ``new_speaker``: also turn the bot's echo down while it does (see
        :data:`RELEARN_S`).
        """
        self._timeline.forget_alignment()
        self._switches += 1
        if new_speaker:
            self._relearn_frames = round(RELEARN_S * 100)
        with self._queue_lock:
            self._queue.clear()
        self._ref_resampler = None

    def _take_reference(self) -> None:
        with self._queue_lock:
            blocks = list(self._queue)
            self._queue.clear()
        for block, dac_time, rate in blocks:
            resampler = self._ref_resampler
            if resampler is None or resampler.in_rate != rate:
                resampler = self._ref_resampler = StreamResampler(rate, self.rate)
            samples = resampler.process(block)
            # The resampler hands back its output delay_samples late: date it accordingly.
            self._timeline.write(samples, dac_time - resampler.delay_samples / self.rate)

    def _while_relearning(self, far: Int16Array, out: Int16Array) -> Int16Array:
        frames = far.reshape(-1, self.frame).astype(np.float32)
        active = np.einsum("ij,ij->i", frames, frames) / self.frame > _FAR_ACTIVE_POWER
        if not active.any():
            return out
        self._relearn_frames -= int(np.count_nonzero(active))
        quieter = out.reshape(-1, self.frame).copy()
        quieter[active] = (quieter[active] * RELEARN_GAIN).astype(np.int16)
        return quieter.reshape(-1)

    # ------------------------------------------------------------ measuring
    def _measure(self, mic: Int16Array, far: Int16Array, out: Int16Array) -> None:
        frames = len(mic) // self.frame
        self.stats.frames += frames
        f = far.astype(np.float32)
        p_far = float(np.dot(f, f)) / len(f)
        if p_far > _FAR_ACTIVE_POWER:
            m = mic.astype(np.float32)
            o = out.astype(np.float32)
            alpha = min(1.0, frames / 200.0)  # ~2 s time constant
            self._p_in += alpha * (float(np.dot(m, m)) / len(m) - self._p_in)
            self._p_out += alpha * (float(np.dot(o, o)) / len(o) - self._p_out)
            if self._p_in > 0:
                ratio = self._p_in / max(self._p_out, 1.0)
                self.stats.erle_db = round(10 * float(np.log10(ratio)), 1)
        self._hist_far.append(far)
        self._hist_mic.append(mic)
        self._hist_len += len(mic)
        while self._hist_len - len(self._hist_mic[0]) >= self._hist_needed:
            self._hist_len -= len(self._hist_mic.popleft())
            self._hist_far.popleft()
        self._since_estimate += len(mic)
        if self._since_estimate >= _DELAY_EVERY_S * self.rate:
            self._since_estimate = 0
            self._estimate_delay()

    def _estimate_delay(self) -> None:
        far = np.concatenate(self._hist_far).astype(np.float32)
        mic = np.concatenate(self._hist_mic).astype(np.float32)
        step = max(1, self.rate // _DELAY_RATE)
        # A box filter before decimating: crude, but speech correlates fine at 8 kHz.
        n = len(far) // step * step
        far = far[:n].reshape(-1, step).mean(axis=1)
        mic = mic[:n].reshape(-1, step).mean(axis=1)
        rate = self.rate / step
        if float(np.dot(far, far)) / max(1, len(far)) < _FAR_ACTIVE_POWER:
            return  # the bot was quiet: nothing to find
        size = 1 << int(np.ceil(np.log2(2 * len(far))))
        spectrum = np.fft.rfft(mic, size) * np.conj(np.fft.rfft(far, size))
        # PHAT weighting: a sharp peak at the delay, whatever the speech's spectrum.
        spectrum /= np.maximum(np.abs(spectrum), 1e-9)
        corr = np.fft.irfft(spectrum, size)
        # The mic lags the reference (read lead_s ahead) by the echo's delay + lead_s.
        lags = corr[: round((_DELAY_MAX_S + self.lead_s) * rate) + 1]
        best = int(np.argmax(lags))
        peak = float(lags[best])
        # A real echo stands 20-60 deviations above the rest; double talk, ~6.
        if peak < _DELAY_PEAK_RATIO * float(np.std(lags)):
            return  # no clear echo (double talk, or the echo is already too weak to see)
        self.stats.delay_ms = round((best / rate - self.lead_s) * 1000.0, 1)
