"""PCM16 mono audio: resampling, chunking, the playout buffer, levels and WAV files.

Pure computation with no I/O besides WAV files, so every piece is tested on
its own and shared by every media backend.
"""

from .chunker import Chunker
from .levels import LevelMeter, level
from .pipeline import InputPipeline, OutputPipeline
from .playout import OverflowReport, PlaybackMark, PlayoutBuffer
from .resample import StreamResampler
from .wav import WavWriter, read_wav, to_int16, write_wav

__all__ = [
    "Chunker",
    "InputPipeline",
    "LevelMeter",
    "OutputPipeline",
    "OverflowReport",
    "PlaybackMark",
    "PlayoutBuffer",
    "StreamResampler",
    "WavWriter",
    "level",
    "read_wav",
    "to_int16",
    "write_wav",
]
