"""``feedback`` and ``retrain`` refusals through real subprocesses (core/cli/feedback.py)."""

from __future__ import annotations

from core.feedback import retrain_policy
from core.jobs import queue
from tests.cli.conftest import ok, user_error
from tests.core.jobs.conftest import read_job, wait_until_finished
from tests.core.test_feedback_loop import score_rice, write_labels


def test_the_command_line_refuses_what_it_cannot_use(trained_settings, trained_sessions, tmp_path) -> None:
    home = trained_settings.home
    assert user_error(home, "feedback", "--dataset", "nope").startswith("error: No dataset 'nope'.")
    wrong = write_labels(tmp_path / "wrong.csv", [(1, "Cammeo")]).read_text().replace("label", "class")
    (tmp_path / "wrong.csv").write_text(wrong)
    message = user_error(home, "feedback", "--dataset", "rice", "--input", str(tmp_path / "wrong.csv"))
    assert message.startswith("error: wrong.csv has no label column")
    # a policy given with a refused file is not saved either: one transaction
    user_error(home, "feedback", "--dataset", "rice", "--threshold", "7", "--input", str(tmp_path / "wrong.csv"))
    with trained_sessions() as session:
        assert retrain_policy(session=session, settings=trained_settings, dataset="rice").threshold == 50
    assert "needs at least 10 labelled predictions" in user_error(home, "retrain", "--dataset", "rice", "--trials", "1")


def test_labels_that_cross_the_threshold_print_the_started_retrain_and_its_process(
    trained_settings, trained_sessions, tmp_path
) -> None:
    scored = score_rice(trained_settings, trained_sessions, tmp_path, rows=10)
    labels = write_labels(tmp_path / "labels.csv", scored)
    args = ("--dataset", "rice", "--threshold", "10", "--auto", "on", "--input", str(labels), "--who", "ana")
    out = ok(trained_settings.home, "feedback", *args)
    assert list(out) == [
        "dataset",
        "accepted",
        "rejected",
        "reasons",
        "created",
        "replaced",
        "unchanged",
        "retrain",
        "counts",
    ]
    assert (out["accepted"], out["counts"]["threshold"], out["counts"]["auto"]) == (10, 10, True)
    started = out["retrain"]
    assert list(started) == ["due", "auto", "job_id", "message", "pid"]
    job = read_job(trained_sessions, started["job_id"])
    assert (job.kind, job.pid) == ("retrain", started["pid"])
    with trained_sessions.begin() as session:
        queue.cancel_job(session=session, job_id=job.id)
    assert wait_until_finished(trained_sessions, job.id).status == "cancelled"
