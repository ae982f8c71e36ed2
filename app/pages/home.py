"""Home: what Sift is and what state this workspace is in."""

import streamlit as st

from app import resources
from app.ui.format import percent
from app.ui.monitor import alert_banner
from core.monitoring.alerts import list_alerts
from core.status import workspace_status

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
    st.info("This workspace is empty. Load the demo data with `python -m core demo`, or ingest your own CSV.")

for d in status.datasets:
    with st.container(border=True):
        st.subheader(d.name)
        st.caption(
            f"{d.versions} version(s) · latest has {d.rows:,} rows · target `{d.target}` · "
            f"{d.predictions:,} predictions"
        )
        if d.champion is None:
            st.warning("No model yet. Train one with `python -m core train --dataset " + d.name + "`.")
            continue
        m = d.champion.metrics
        cols = st.columns(4)
        cols[0].metric("Champion", f"v{d.champion.version}")
        cols[1].metric("Accuracy (holdout)", percent(m.get("accuracy")))
        cols[2].metric("Macro F1 (holdout)", percent(m.get("f1_macro")))
        cols[3].metric("ROC AUC (holdout)", percent(m.get("roc_auc")))

st.page_link("app/pages/predict.py", label="Make a prediction", icon=":material/online_prediction:")
