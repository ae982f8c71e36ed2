"""Sift's entry point: page config, navigation over app/pages/, and the shared sidebar."""

from pathlib import Path

import streamlit as st

from app import resources
from app.ui import access
from app.ui.first_run import demo_button
from core.feedback import feedback_counts
from core.jobs.queue import active_jobs, job_progress
from core.status import dataset_names

PAGES = Path(__file__).parent / "app" / "pages"
REFRESH_SECONDS = 2  # while a job runs, the sidebar's counters follow it as often as the Train page's panel

st.set_page_config(page_title="Sift", page_icon="🧪", layout="wide")
# with a password configured, nothing below runs for a session that has not signed in; navigation is
# still declared (hidden) so a deep link such as /predict opens its page once signed in
signed_in = access.require_sign_in()

home_page = st.Page(PAGES / "home.py", title="Home", icon=":material/home:", default=True)
data_page = st.Page(PAGES / "data.py", title="Data", icon=":material/table:", url_path="data")
train_page = st.Page(PAGES / "train.py", title="Train", icon=":material/tune:", url_path="train")
feedback_page = st.Page(PAGES / "feedback.py", title="Feedback", icon=":material/fact_check:", url_path="feedback")
page = st.navigation(
    [
        home_page,
        data_page,
        train_page,
        st.Page(PAGES / "predict.py", title="Predict", icon=":material/online_prediction:", url_path="predict"),
        st.Page(PAGES / "batch.py", title="Batch", icon=":material/upload_file:", url_path="batch"),
        feedback_page,
        st.Page(PAGES / "models.py", title="Models", icon=":material/model_training:", url_path="models"),
        st.Page(PAGES / "monitor.py", title="Monitor", icon=":material/monitoring:", url_path="monitor"),
    ],
    position="sidebar" if signed_in else "hidden",
)
if not signed_in:
    st.stop()


def show_status(dataset: str | None) -> None:
    """Labels waiting and labels since the champion, then the jobs running in the background."""
    with resources.sessions()() as session:
        running = active_jobs(session=session)
        counts = dataset and feedback_counts(session=session, settings=resources.settings(), dataset=dataset)
    if counts:
        st.page_link(
            feedback_page,
            label=f"{counts.pending:,} prediction{'s' if counts.pending != 1 else ''} without a label",
            icon=":material/fact_check:",
        )
        if counts.threshold_text:
            st.caption(
                counts.threshold_text + (", starting by itself" if counts.due and counts.auto else ""),
                help="Labels gathered since the champion was trained, and the threshold that makes a retrain due.",
            )
    for job in running:  # training runs in the background: say so on every page, as the Train page counts it
        doing = "Retraining" if job.kind == "retrain" else "Training"
        label = f"{doing} {job.dataset}: {job_progress(job).summary}"
        st.page_link(train_page, label=label, icon=":material/hourglass_top:")


with st.sidebar:
    with resources.sessions()() as session:
        names = dataset_names(session=session)
    if names:
        pending = st.session_state.pop(resources.PENDING_DATASET_KEY, None)
        if pending in names:
            st.session_state[resources.DATASET_KEY] = pending
        elif st.session_state.get(resources.DATASET_KEY) not in names:
            st.session_state[resources.DATASET_KEY] = names[0]
        st.selectbox("Dataset", names, key=resources.DATASET_KEY, help="Every page works on this dataset.")
    else:
        st.info("No dataset yet: upload a labelled CSV, or start with the demo data.")
        st.page_link(data_page, label="Upload a CSV", icon=":material/upload_file:")
        if page.url_path != home_page.url_path:  # Home offers the same button in its own empty state
            demo_button(key="sidebar_demo")
    status = st.empty()
    access.sidebar_controls()


def refresh_status() -> None:
    """The sidebar's counters; while a job runs they refresh by themselves, like the Train page's panel."""
    with resources.sessions()() as session:
        busy = bool(active_jobs(session=session))
    with status.container():
        st.fragment(run_every=REFRESH_SECONDS if busy else None)(show_status)(
            st.session_state.get(resources.DATASET_KEY) if names else None
        )


refresh_status()
page.run()
refresh_status()  # drawn again once the page ran, the counters include what it just did
