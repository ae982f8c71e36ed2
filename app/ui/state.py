"""Page state tied to what it belongs to: one rule for every page.

Every widget key and every stored result of a page lives under a :class:`Scope` named by the page
and the objects it belongs to (dataset, model version, job, ...). A key carries those owners, so
a widget of penguins v1 is never the widget of titanic v1, and the state of another owner is
dropped when the page is drawn for a new one (:func:`scope`): switching dataset, promoting,
rolling back or finishing an action leaves nothing behind that no longer applies.

    page = state.scope("predict", dataset=name, version=model.version)
    st.number_input("age", key=page.key("field", column="age"))
    page.set("result", result)          # kept while the owners stay the same
    box = page.key("true_class", prediction=result.prediction_id)  # a new box for each prediction

Results that depend on inputs keep a fingerprint of them (:meth:`Scope.set` with ``inputs=``):
:meth:`Scope.current` tells whether the inputs changed since, so a page can mark the result out
of date instead of showing it as if it still applied.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import streamlit as st

_PREFIX = "sift:"


def _fingerprint(parts: dict[str, Any]) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Scope:
    """The session-state keys of one page for one set of owners."""

    page: str
    owners: dict[str, Any]

    @property
    def prefix(self) -> str:
        return f"{_PREFIX}{self.page}:{_fingerprint(self.owners)}:"

    def key(self, name: str, **more: Any) -> str:
        """A widget or value key under this scope; ``more`` owners narrow it (a prediction, a column)."""
        return self.prefix + name + (f":{_fingerprint(more)}" if more else "")

    def get(self, name: str, default: Any = None) -> Any:
        return st.session_state.get(self.key(name), default)

    def set(self, name: str, value: Any, *, inputs: Any = None) -> None:
        """Keep ``value``; with ``inputs``, also what it was computed from (see :meth:`current`)."""
        st.session_state[self.key(name)] = value
        if inputs is not None:
            st.session_state[self.key(name, of="inputs")] = _fingerprint({"inputs": inputs})

    def current(self, name: str, inputs: Any) -> bool:
        """Whether the stored ``name`` was computed from these very ``inputs``."""
        return st.session_state.get(self.key(name, of="inputs")) == _fingerprint({"inputs": inputs})

    def pop(self, name: str, default: Any = None) -> Any:
        st.session_state.pop(self.key(name, of="inputs"), None)
        return st.session_state.pop(self.key(name), default)

    def clear(self, *names: str) -> None:
        """Forget these values (all of the scope's when none is named), e.g. after an action completed."""
        for key in list(st.session_state.keys()):
            if not isinstance(key, str) or not key.startswith(self.prefix):
                continue
            if not names or any(key == self.prefix + n or key.startswith(f"{self.prefix}{n}:") for n in names):
                del st.session_state[key]


def scope(page: str, **owners: Any) -> Scope:
    """The page's scope for these owners; the page's state of any other owners is dropped."""
    found = Scope(page, owners)
    mine = f"{_PREFIX}{page}:"
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.startswith(mine) and not key.startswith(found.prefix):
            del st.session_state[key]
    return found
