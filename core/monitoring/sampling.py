"""Seeded samples of a large window: the same window always gives the same sample.

A window with more rows than ``settings.drift_max_rows`` is measured on a sample of that many of
its rows. The sample is drawn from a seed derived from the window (:func:`seed_of` its dataset and
name), at positions of the window's rows ordered by prediction id (:func:`positions`), so measuring
the window again, or reading it from the ledger (:func:`core.monitoring.ledger.read_inputs`) rather
than from a frame (:func:`sample_rows`), reads the same rows.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd


def seed_of(*parts: object) -> int:
    """A seed that depends only on ``parts`` (a window's dataset and name): stable across processes."""
    return zlib.crc32("\x1f".join(map(str, parts)).encode("utf-8"))


def positions(total: int, size: int, seed: int) -> np.ndarray:
    """``size`` distinct positions of ``total``, ascending, drawn with ``seed`` (all when fewer)."""
    if size >= total:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, size, replace=False))


def sample_rows(frame: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """``size`` rows of ``frame`` (in its order), drawn with ``seed``; the frame itself when it is not larger."""
    if len(frame) <= size:
        return frame
    return frame.iloc[positions(len(frame), size, seed)]


def sample_note(measured: int, rows: int) -> str:
    return f"measured on a seeded sample of {measured:,} of {rows:,} rows"
