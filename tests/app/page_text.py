"""Everything an AppTest page shows, as text: for checks that a secret is nowhere on it."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def page_text(at: AppTest) -> str:
    """Everything the page holds: each element's message, the tables' data included."""
    parts = []

    def walk(node) -> None:
        if (proto := getattr(node, "proto", None)) is not None:
            parts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts) + "\n".join(d.value.to_string() for d in at.dataframe)
