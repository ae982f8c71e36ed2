"""The reasons chart says its unit in words (issue 13): what a number moves, and for which class."""

from __future__ import annotations

from app.ui.charts import contribution_bar, reason_sentence, unit_meaning


def test_reason_sentences_name_the_class_and_the_unit() -> None:
    assert reason_sentence("island = Biscoe", 0.1234, "Gentoo", "probability") == (
        "island = Biscoe pushes the probability of Gentoo up by 0.12"
    )
    down = reason_sentence("Area = 1", -0.35, "Cammeo", "log-odds")
    assert down == "Area = 1 pushes the log-odds of Cammeo down by 0.35"
    assert "before it becomes a probability" in unit_meaning("log-odds", "Cammeo")
    axis = contribution_bar([("Area = 1", 0.2)], "Cammeo", "probability").layout.xaxis.title.text
    assert axis == "change in the probability of Cammeo"
