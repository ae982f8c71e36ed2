"""app.ui.monitor: the Monitor page's captions and its drift settings table."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from app.ui import monitor


def test_the_edited_settings_table_gives_only_the_choices_made() -> None:
    edited = pd.DataFrame(
        {
            "feature": ["Area", "Perimeter", "Extent"],
            "method": ["auto", "psi", None],
            "threshold": [None, 0.2, float("nan")],
        }
    )
    assert monitor.options_from_editor(edited) == {
        "Area": {"method": None, "threshold": None},
        "Perimeter": {"method": "psi", "threshold": 0.2},
        "Extent": {"method": None, "threshold": None},
    }


def test_the_estimate_caption_needs_the_holdout_halves() -> None:
    assert monitor.estimate_caption(None, 1) is None
    assert monitor.estimate_caption(SimpleNamespace(check={}), 1) is None
    base = SimpleNamespace(
        check={"halves": [{"estimate": 0.9, "realised": 0.88, "estimated_on": 381}]},
        holdout_rows=762,
        holdout_accuracy=0.91,
    )
    caption = monitor.estimate_caption(base, 2)
    assert "calibrated on v2's holdout (762 rows, accuracy 91.0%)" in caption
    assert caption.endswith("estimated 90.0% vs realised 88.0% on 381 rows.")
