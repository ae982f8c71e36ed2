"""Sift's database: typed models, engine and sessions."""

from core.db.engine import get_engine, get_sessionmaker, init_db, open_database
from core.db.models import Base, Batch, DatasetVersion, Prediction

__all__ = [
    "Base",
    "Batch",
    "DatasetVersion",
    "Prediction",
    "get_engine",
    "get_sessionmaker",
    "init_db",
    "open_database",
]
