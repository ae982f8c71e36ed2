"""Class labels of any type: one way to say which class a label names, typed arrays of classes, and
metrics that compare like with like (issue 12, failure class 2)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from core.errors import InvalidLabel
from core.feedback import normalise_label
from core.labels import as_class_texts, as_classes, class_text, match_class
from core.training.evaluate import classification_metrics


@pytest.mark.parametrize(
    ("label", "classes", "expected"),
    [
        ("1", [0, 1], 1),  # a CSV cell names an integer class
        (1.0, [0, 1], 1),  # a JSON number
        ("1.0", ["0", "1"], "1"),  # a spreadsheet's float against the ledger's text
        (np.int64(0), ["0", "1"], "0"),
        (" true ", [False, True], True),
        ("1", ["False", "True"], "True"),  # 1 and 0 name True and False
        (True, [False, True], True),
        ("2", [1.0, 2.0], 2.0),
        ("Yes", ["no", "yes"], "yes"),  # boolean-like text stays text
        ("new  york", ["New York", "Boston"], "New York"),
        ("a", ["a", "A"], "a"),  # an exact match wins over a case-insensitive one
    ],
)
def test_a_label_names_the_class_it_means(label, classes, expected) -> None:
    found = match_class(label, classes)
    assert found == expected and type(found) is type(expected)


@pytest.mark.parametrize(
    ("label", "classes", "message"),
    [
        ("true", [0, 1], "'true' is not a class of the model; its classes are '0', '1'"),
        ("2", [0, 1], "'2' is not a class"),
        ("", [0, 1], "The label is empty"),
        (None, [0, 1], "The label is empty"),
        (float("nan"), ["a", "b"], "The label is empty"),
        ("01", ["1", "1.0"], "matches several classes of the model ('1', '1.0')"),
        ("yes", ["Yes", "YES", "no"], "matches several classes"),
    ],
)
def test_a_label_that_names_no_class_or_several_is_refused(label, classes, message) -> None:
    with pytest.raises(InvalidLabel, match=message.replace("(", r"\(").replace(")", r"\)")):
        match_class(label, classes)


def test_feedback_stores_the_class_as_the_ledger_writes_it() -> None:
    assert normalise_label(1, ["0", "1"]) == "1"
    assert normalise_label("1.0", ["0", "1"]) == "1"
    assert normalise_label(True, ["False", "True"]) == "True"
    assert [class_text(c) for c in (np.int64(1), True, 2.0, "yes")] == ["1", "True", "2.0", "yes"]


def test_a_column_of_labels_becomes_the_classes_own_type() -> None:
    integers = as_classes(["1", "0", 1.0, np.int64(1)], [0, 1])
    assert integers.dtype.kind == "i" and integers.tolist() == [1, 0, 1, 1]
    booleans = as_classes(["true", "False", "1"], [False, True])
    assert booleans.dtype == bool and booleans.tolist() == [True, False, True]
    texts = as_classes(["YES", "no"], ["no", "yes"])
    assert texts.dtype == object and texts.tolist() == ["yes", "no"]
    with pytest.raises(InvalidLabel, match="'maybe' is not a class"):
        as_classes(["yes", "maybe"], ["no", "yes"])
    assert as_class_texts(np.array([1, 0, 3]), [0, 1]).tolist() == ["1", "0", "3"]  # unknown: its own text


def test_metrics_are_the_same_whichever_way_the_truth_is_typed() -> None:
    """Integer truth read back as text, or as an object column of numbers, scores exactly as integers do.

    scikit-learn alone refuses the object column ("a mix of unknown and binary targets"), which is
    how the recent-feedback slice of a retrain with integer classes crashed.
    """
    data = load_breast_cancer()
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(data.data[::2], data.target[::2])
    truth, proba = data.target[1::2], model.predict_proba(data.data[1::2])
    reference = classification_metrics(truth, proba, model.classes_)
    assert 0.9 < reference["f1_macro"] < 1 and 0.9 < reference["roc_auc"] <= 1
    for variant in (truth.astype(str), truth.astype(object), truth.astype(float), [int(v) for v in truth]):
        assert classification_metrics(np.asarray(variant, dtype=object), proba, model.classes_) == reference


def test_multi_class_roc_auc_keeps_the_class_order_of_numbers() -> None:
    """Classes 1, 2, 10 sort differently as text: ROC AUC must still be defined and right."""
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.7, 0.2], [0.2, 0.2, 0.6], [0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    metrics = classification_metrics(np.array([1, 2, 10, 1, 10]), proba, np.array([1, 2, 10]))
    assert metrics["roc_auc"] == 1.0 and metrics["accuracy"] == 1.0
