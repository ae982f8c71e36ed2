"""``feedback`` and ``retrain`` refusals through real subprocesses (core/cli/feedback.py)."""

from __future__ import annotations

from tests.cli.conftest import user_error
from tests.core.test_feedback_loop import write_labels


def test_the_command_line_refuses_what_it_cannot_use(trained_settings, tmp_path) -> None:
    home = trained_settings.home
    assert user_error(home, "feedback", "--dataset", "nope").startswith("error: No dataset 'nope'.")
    wrong = write_labels(tmp_path / "wrong.csv", [(1, "Cammeo")]).read_text().replace("label", "class")
    (tmp_path / "wrong.csv").write_text(wrong)
    message = user_error(home, "feedback", "--dataset", "rice", "--input", str(tmp_path / "wrong.csv"))
    assert message.startswith("error: wrong.csv has no label column")
    assert "needs at least 10 labelled predictions" in user_error(home, "retrain", "--dataset", "rice", "--trials", "1")
