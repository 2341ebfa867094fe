"""Lets the doc snippets import the parrot provider of examples/new_provider.py.

Snippets run as scripts (tests/test_examples.py runs each one); the parrot
server and provider stand in for a real LLM so every snippet runs offline.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

from new_provider import ParrotOptions, ParrotServer, ParrotTransport

__all__ = ["ParrotOptions", "ParrotServer", "ParrotTransport"]
