"""The video notebook runs in a real kernel and shows the frame that was sent."""

from __future__ import annotations

import pytest

from tests.test_examples import execute_notebook, outputs

pytest.importorskip("cv2", reason="the video notebook needs rtws[video] (OpenCV)")


def test_seeing_notebook_shows_the_sent_frame_and_the_bots_words() -> None:
    nb = execute_notebook("seeing.ipynb")
    assert len(outputs(nb, "image/jpeg")) == 1
    markdown = outputs(nb, "text/markdown")
    assert any(m.startswith("🤖 **bot:** I see a picture of 768 by 432") for m in markdown)
    assert any(m.startswith("768x432 image/jpeg") for m in markdown)
