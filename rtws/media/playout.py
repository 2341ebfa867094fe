"""The output path every backend shares: bot audio into the playout buffer and out to a device.

Split from :mod:`rtws.media.base` so the speaker side reads on its own: the
transport queues provider-rate audio with :meth:`Playout.play`, a backend's
audio thread takes device-rate blocks with ``_pull_output``, and barge-in
asks :meth:`Playout.flush` what was really heard. The buffer itself
(:class:`rtws.audio.OutputPipeline`) is lock-light, so none of this waits for
the event loop.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..audio import OutputPipeline, PlaybackMark
from .types import MediaFormat, MediaStats


class Playout:
    """The speaker half of :class:`~rtws.media.base.MediaManager`, which sets these up."""

    _output: OutputPipeline | None
    _format: MediaFormat | None
    stats: MediaStats

    def _pull_output(self, out: npt.NDArray[np.int16]) -> int:
        """Fill ``out`` (device rate, mono) from the playout buffer. Any thread; never blocks."""
        pipeline = self._output
        if pipeline is None:
            out.fill(0)
            return 0
        return pipeline.read_into(out)

    def play(self, pcm: bytes | npt.NDArray[np.int16], item_id: str | None = None) -> None:
        """Queue bot audio (provider rate) for playback; what does not fit is counted in
        ``stats.dropped_bot_audio_ms`` (the bound is ``MediaFormat.max_playout_s``)."""
        output = self._output
        if output is not None:
            dropped = output.write(pcm, item_id)
            if dropped:
                self.stats.dropped_bot_audio_ms += round(dropped * 1000 / output.provider_rate)

    def end_of_stream(self, item_id: str | None = None) -> None:
        """No more audio is coming for now: play the tail even if shorter than the prebuffer."""
        if self._output is not None:
            self._output.end_of_stream(item_id)

    def flush(self) -> PlaybackMark:
        """Silence the speaker within one block and report what was really played."""
        if self._output is None:
            return PlaybackMark(None, 0, 0, self._format.output_sample_rate if self._format else 0)
        return self._output.flush()

    def mark(self) -> PlaybackMark:
        if self._output is None:
            return PlaybackMark(None, 0, 0, self._format.output_sample_rate if self._format else 0)
        return self._output.mark()

    def playout_starts(self) -> list[tuple[float, str | None]]:
        """When the speaker started playing, lately: ``(time.perf_counter(), item id)`` each."""
        return list(self._output.buffer.starts) if self._output is not None else []

    def played_ms(self, item_id: str) -> int:
        return self._output.played_ms(item_id) if self._output is not None else 0

    @property
    def bot_audio_idle_since(self) -> float | None:
        """``time.monotonic()`` since when nothing was played, or None while audio plays."""
        if self._output is None:
            return 0.0
        return self._output.buffer.idle_since()

    @property
    def bot_audio_buffered_ms(self) -> float:
        return self._output.buffer.buffered_ms if self._output is not None else 0.0
