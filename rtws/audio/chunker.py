"""Fixed-size chunks from variable-size blocks.

Providers and their voice detectors expect steady chunks (20 ms by default),
while devices and resamplers deliver whatever size they like. Pieces are
kept in a list and joined once per chunk, so cost stays linear.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]


class Chunker:
    def __init__(self, samples_per_chunk: int) -> None:
        if samples_per_chunk <= 0:
            raise ValueError(f"samples_per_chunk must be positive, got {samples_per_chunk}")
        self.samples_per_chunk = samples_per_chunk
        self._pieces: list[Int16Array] = []
        self._pending = 0

    @property
    def pending(self) -> int:
        return self._pending

    def push(self, pcm: Int16Array) -> list[Int16Array]:
        """Add samples; return every complete chunk.

        A chunk may share memory with ``pcm`` (a block that is exactly one chunk
        comes back as is, the common case with 20 ms device blocks); copy it to
        keep it past the caller's next write into ``pcm``.
        """
        if not self._pending and len(pcm) == self.samples_per_chunk:
            return [pcm]
        if len(pcm):
            self._pieces.append(pcm)
            self._pending += len(pcm)
        size = self.samples_per_chunk
        if self._pending < size:
            return []
        joined = np.concatenate(self._pieces) if len(self._pieces) > 1 else self._pieces[0]
        count = len(joined) // size
        chunks = [joined[i * size : (i + 1) * size] for i in range(count)]
        rest = joined[count * size :]
        self._pieces = [rest.copy()] if len(rest) else []
        self._pending = len(rest)
        return chunks

    def flush(self, pad: bool = True) -> Int16Array | None:
        """The remainder, zero-padded to a full chunk (or as is); None when empty."""
        if not self._pending:
            return None
        rest = np.concatenate(self._pieces)
        self.clear()
        if pad:
            rest = np.concatenate([rest, np.zeros(self.samples_per_chunk - len(rest), np.int16)])
        return rest

    def clear(self) -> None:
        self._pieces = []
        self._pending = 0
