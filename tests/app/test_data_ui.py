"""app.ui.data: the Data page's notes and tables say what core computed, in words."""

from __future__ import annotations

from types import SimpleNamespace

from app.ui import data
from core.datasets import explore


def _version(rows: int, *, unlabelled: int | None = None) -> SimpleNamespace:
    return SimpleNamespace(label="shop v2", row_count=rows, target="bought", unlabelled_rows=unlabelled)


def test_summary_values_read_by_their_kind() -> None:
    text = data.summary_text({"mean": 1234.5678, "median": 3.14159, "small": 0.000123, "its share": 0.25, "n": 1200})
    assert text == "mean: **1,235** · median: **3.14** · small: **0.000123** · its share: **25.0%** · n: **1,200**"


def test_notes_say_which_rows_and_how_many_have_no_label() -> None:
    assert data.sample_note(_version(120)) == "Computed on all 120 rows."
    assert data.sample_note(_version(explore.SAMPLE_ROWS + 1)).startswith(
        f"Computed on a random sample of {explore.SAMPLE_ROWS:,} of the"
    )
    assert data.unlabelled_note(1, _version(200)).startswith("1 row has no label in `bought` (0.5%)")
    assert data.marker_label("") == "(empty cell)" and data.marker_label("NA") == "NA"


def test_the_saved_notice_says_whether_anything_new_was_stored() -> None:
    saved = data.saved_notice("shop.csv", _version(200, unlabelled=4), True, "bought")
    assert saved.startswith("Saved shop.csv as **shop v2** (200 rows, target `bought`). 4 rows have no label")
    again = data.saved_notice("shop.csv", _version(200), False, "bought")
    assert again == "shop.csv with this target and these roles is already **shop v2**: nothing new was stored."
