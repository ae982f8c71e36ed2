"""Sift's entry point: page config, navigation over app/pages/, and the shared sidebar."""

from pathlib import Path

import streamlit as st

from app import resources
from core.jobs import active_jobs
from core.status import dataset_names

PAGES = Path(__file__).parent / "app" / "pages"

st.set_page_config(page_title="Sift", page_icon="🧪", layout="wide")

train_page = st.Page(PAGES / "train.py", title="Train", icon=":material/tune:", url_path="train")
page = st.navigation(
    [
        st.Page(PAGES / "home.py", title="Home", icon=":material/home:", default=True),
        st.Page(PAGES / "data.py", title="Data", icon=":material/table:", url_path="data"),
        train_page,
        st.Page(PAGES / "predict.py", title="Predict", icon=":material/online_prediction:", url_path="predict"),
        st.Page(PAGES / "models.py", title="Models", icon=":material/model_training:", url_path="models"),
    ]
)

with st.sidebar:
    with resources.sessions()() as session:
        names = dataset_names(session=session)
        running = active_jobs(session=session)
    if names:
        pending = st.session_state.pop(resources.PENDING_DATASET_KEY, None)
        if pending in names:
            st.session_state[resources.DATASET_KEY] = pending
        elif st.session_state.get(resources.DATASET_KEY) not in names:
            st.session_state[resources.DATASET_KEY] = names[0]
        st.selectbox("Dataset", names, key=resources.DATASET_KEY, help="Every page works on this dataset.")
    else:
        st.info("No dataset yet: run `python -m core demo` or ingest a CSV.")
    for job in running:  # training runs in the background: say so on every page
        progress = job.progress or {}
        trial = f"trial {progress.get('trial') or 0}" + (f" of {progress['trials']}" if progress.get("trials") else "")
        st.page_link(train_page, label=f"Training {job.dataset}: {trial}", icon=":material/hourglass_top:")

page.run()
