"""Home: what Sift is and what state this workspace is in."""

import streamlit as st

from app import resources
from app.ui.first_run import demo_button
from app.ui.format import metric
from app.ui.monitor import alert_banner
from core.monitoring.alerts import list_alerts
from core.status import workspace_status


def open_page(page: str, dataset: str) -> None:
    """Make ``dataset`` the sidebar's dataset and open ``page`` on it (a card's button acts on its own dataset)."""
    resources.select_dataset(dataset)
    st.switch_page(page)


st.title("Sift")
st.markdown(
    "A classification workbench: bring a labelled table, train and tune a classifier, score single "
    "rows or whole files, and keep every prediction on record."
)

with resources.sessions()() as session:
    status = workspace_status(session=session, settings=resources.settings())
    open_alerts = list_alerts(session=session, status="open")
alert_banner(open_alerts)

c1, c2, c3 = st.columns(3)
c1.metric("Datasets", len(status.datasets))
c2.metric("Champion models", sum(1 for d in status.datasets if d.champion))
c3.metric("Predictions so far", f"{status.predictions:,}")


if not status.datasets:
    with st.container(border=True):
        st.subheader("Start here")
        st.markdown(
            "This workspace is empty. Bring a labelled table (one row per case, one column holding the "
            "class to predict), or try Sift on the demo data first."
        )
        upload, demo = st.columns(2)
        with upload:
            st.page_link("app/pages/data.py", label="Upload a CSV", icon=":material/upload_file:")
        with demo:
            demo_button(key="home_demo")

for d in status.datasets:
    with st.container(border=True):
        st.subheader(d.name)
        st.caption(
            f"{d.versions} version(s) · latest has {d.rows:,} rows · target `{d.target}` · "
            f"{d.predictions:,} predictions"
        )
        if d.champion is None:
            st.warning("No model yet: train one to start predicting.")
            if st.button("Train a model", key=f"home_train_{d.name}", icon=":material/tune:", type="primary"):
                open_page("app/pages/train.py", d.name)
            continue
        m = d.champion.metrics
        cols = st.columns(4)
        cols[0].metric("Champion", f"v{d.champion.version}")
        cols[1].metric("Accuracy (holdout)", metric(m.get("accuracy")))
        cols[2].metric("Macro F1 (holdout)", metric(m.get("f1_macro")))
        cols[3].metric("ROC AUC (holdout)", metric(m.get("roc_auc")))
        if st.button("Make a prediction", key=f"home_predict_{d.name}", icon=":material/online_prediction:"):
            open_page("app/pages/predict.py", d.name)
