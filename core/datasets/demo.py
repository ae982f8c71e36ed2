"""The bundled demo dataset, for a first run: rice grains of two varieties (see data/demo/SOURCES.md)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.config import DEMO_DIR
from core.datasets.versions import ingest
from core.db.models import DatasetVersion

DEMO_DATASET = "rice"
DEMO_FILE = "rice_cammeo_osmancik.csv"
DEMO_TARGET = "Class"


def load_demo(*, session: Session) -> tuple[DatasetVersion, bool]:
    """Store the bundled rice grains as the dataset ``rice``; returns (version, created).

    Loading it again stores nothing new (the same content is the same version). The caller owns the
    transaction: commit after this returns.
    """
    return ingest(session=session, path=DEMO_DIR / DEMO_FILE, name=DEMO_DATASET, target=DEMO_TARGET)
