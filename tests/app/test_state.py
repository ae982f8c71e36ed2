"""The page-state rule (app/ui/state.py), through a real Streamlit script run by AppTest."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from app.ui.state import Scope


def _script() -> None:
    import streamlit as st

    from app.ui import state

    dataset = st.session_state.get("owner", "penguins")
    page = state.scope("demo", dataset=dataset, version=1)
    st.text_input("note", key=page.key("note"))
    if st.button("keep"):
        page.set("result", st.session_state[page.key("note")], inputs={"note": st.session_state[page.key("note")]})
    result = page.get("result")
    if result is not None:
        fresh = page.current("result", {"note": st.session_state[page.key("note")]})
        st.write(f"result: {result} ({'current' if fresh else 'out of date'})")


def test_state_is_tied_to_its_owners_and_results_know_their_inputs() -> None:
    at = AppTest.from_function(_script).run()
    at.text_input[0].input("adelie").run()
    at.button[0].click().run()
    assert at.markdown[0].value == "result: adelie (current)"
    at.text_input[0].input("gentoo").run()
    assert at.markdown[0].value == "result: adelie (out of date)"

    at.session_state["owner"] = "titanic"  # another dataset: nothing of penguins carried over
    at.run()
    assert at.text_input[0].value == "" and not at.markdown
    penguins = Scope("demo", {"dataset": "penguins", "version": 1})
    assert penguins.key("note") not in at.session_state and penguins.key("result") not in at.session_state
    at.session_state["owner"] = "penguins"  # and nothing of penguins kept either
    at.run()
    assert at.text_input[0].value == "" and not at.markdown
