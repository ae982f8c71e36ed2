"""Class labels of any type: how a class is written, and which class a given label names.

A model's classes are kept typed in its input contract, as the target column held them:
integers (``0``/``1``), booleans (``True``/``False``), numbers (``1.0``) or text (``yes``/``no``).
The ledger, feedback and every page write a class as its text, :func:`class_text`. Whatever
names a class from outside (a CSV cell, a form, a JSON value, the text stored with a label) is
mapped to it by :func:`match_class`, and a whole column of labels by :func:`as_classes`; so
feedback, retraining and metrics compare like with like, never ``"1"`` with ``1``.

A label names a class when, in this order: its text is the class's text; it equals it whatever
the case and surrounding or repeated spaces; it is the same number (``1.0`` and ``1`` name class
``1``; ``1``/``0`` name ``True``/``False``). A label that names no class, or several, is refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.errors import InvalidLabel

_BOOLEAN_TEXT = {"true": 1.0, "false": 0.0}


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (``np.int64(1)`` -> ``1``); anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def class_text(value: Any) -> str:
    """How a class is written in the ledger, in feedback and on pages: ``str`` of its plain value."""
    return str(plain(value))


def _text(label: Any) -> str:
    if label is None or (not isinstance(label, str) and bool(pd.isna(label))):
        return ""
    return " ".join(class_text(label).split())


def _key(text: str) -> str:
    return text.casefold()


def _label_number(text: str) -> float | None:
    """The number a label's text is written as, if any (``1``, ``1.0``, ``+1``)."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _class_number(value: Any) -> float | None:
    """The number a class stands for: its value, 1 or 0 for a boolean (typed or as ``True``/``False`` text)."""
    value = plain(value)
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    text = _text(value)
    return _BOOLEAN_TEXT.get(_key(text), _label_number(text))


def match_class(label: Any, classes: Sequence[Any], *, where: str = "the model") -> Any:
    """The element of ``classes`` that ``label`` names (see the module docstring), or InvalidLabel.

    ``classes`` may be typed (a model's contract) or their texts (the ledger's); the element is
    returned as it is, so typed classes give a typed class.
    """
    text = _text(label)
    listed = ", ".join(repr(class_text(c)) for c in classes)
    if not text:
        raise InvalidLabel(f"The label is empty. Give one of the classes of {where}: {listed}.")
    number = _label_number(text)
    rules = [
        lambda c: class_text(c) == text,
        lambda c: _key(_text(c)) == _key(text),
        lambda c: number is not None and _class_number(c) == number,
    ]
    for rule in rules:
        matches = [c for c in classes if rule(c)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            shown = ", ".join(repr(class_text(c)) for c in matches)
            raise InvalidLabel(f"{text!r} matches several classes of {where} ({shown}): give it exactly.")
    raise InvalidLabel(
        f"{text!r} is not a class of {where}; its classes are {listed}. To teach the model a new class, add "
        "labelled rows with it to a new version of the dataset and retrain."
    )


def class_dtype(classes: Sequence[Any]) -> np.dtype:
    """The dtype a column of these classes has: integer, boolean or float for such classes, else object."""
    typed = np.asarray([plain(c) for c in classes])
    return typed.dtype if typed.dtype.kind in "biuf" else np.dtype(object)


def as_classes(labels: Iterable[Any], classes: Sequence[Any], *, where: str = "the model") -> np.ndarray:
    """Labels mapped to ``classes`` (:func:`match_class`), as one array of the classes' own type.

    Raises InvalidLabel for the first label that names no class.
    """
    values = labels if isinstance(labels, pd.Series) else pd.Series(np.asarray(labels, dtype=object))
    texts = values.map(_text).to_numpy(dtype=object)
    found: dict[str, Any] = {}
    for text in dict.fromkeys(texts):
        found[text] = plain(match_class(text, classes, where=where))
    return np.asarray([found[t] for t in texts], dtype=class_dtype(classes))


def as_class_texts(labels: Iterable[Any], classes: Sequence[Any]) -> np.ndarray:
    """Labels as the text of the class each names; a label that names none keeps its own text.

    For metrics: every value is text, so a truth column and a model's classes always compare.
    """
    values = labels if isinstance(labels, pd.Series) else pd.Series(np.asarray(labels, dtype=object))
    texts = values.map(_text).to_numpy(dtype=object)
    found: dict[str, str] = {}
    for text in dict.fromkeys(texts):
        try:
            found[text] = class_text(match_class(text, classes))
        except InvalidLabel:
            found[text] = text
    return np.asarray([found[t] for t in texts], dtype=object)


def written_classes(classes: Sequence[Any]) -> np.ndarray:
    """The classes as a scored file holds them, so each reads back as the training file wrote it.

    Integers and text go as they are; booleans and decimal numbers go as their text, since a CSV
    writer would turn ``True`` into ``true`` and ``1.0`` into ``1``.
    """
    if class_dtype(classes).kind in "iu" or all(isinstance(plain(c), str) for c in classes):
        return np.asarray([plain(c) for c in classes], dtype=object)
    return np.asarray([class_text(c) for c in classes], dtype=object)


def whole_classes(values: pd.Series) -> pd.Series:
    """A target column of labelled rows whose decimals are all whole numbers, as integers.

    A column of whole-number classes with gaps reads as decimals (``1.0`` for ``1``); once the
    rows without a label are left out, this gives the classes back the type the file wrote.
    """
    if values.dtype.kind != "f" or not len(values):
        return values
    if not (values == values.round()).all() or values.abs().max() >= 2**53:
        return values
    return values.astype("int64")
