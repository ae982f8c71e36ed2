"""Evidently's drift methods, computed from a reference profile instead of the training rows.

The five methods Sift chooses on "auto" (and an analyst may choose), with the formulas of the
installed Evidently 0.7 (``evidently/legacy/calculations/stattests/``: ``ks_stattest``,
``wasserstein_distance_norm``, ``chisquare_stattest``, ``z_stattest``, ``jensenshannon`` and
``utils.get_binned_data``), on the values Evidently compares: the window's and the training
data's present values (Evidently drops missing and infinite values first). The reference side is
a :class:`~core.monitoring.profile.ColumnProfile`: numbers as distinct values with counts,
categories with counts. The scores equal Evidently's to floating-point rounding (the tests hold
them to 1e-9 relative); each method's verdict reads its score the way Evidently does
(:data:`DRIFTS_AT`).

Every other method (and text) is Evidently's own, run on the training rows
(:mod:`core.monitoring.drift`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.spatial import distance
from scipy.special import rel_entr
from scipy.stats import chisquare as chisquare_test
from scipy.stats import ks_2samp, norm

from core.monitoring.options import CAT, NUM

# how each method's score is a drift, as Evidently reads it (its stattests return these comparisons)
DRIFTS_AT: dict[str, Callable[[float, float], bool]] = {
    "ks": lambda p, threshold: p <= threshold,
    "chisquare": lambda p, threshold: p < threshold,
    "z": lambda p, threshold: p < threshold,
    "wasserstein": lambda d, threshold: d >= threshold,
    "jensenshannon": lambda d, threshold: d >= threshold,
}
KINDS = {"ks": (NUM,), "wasserstein": (NUM,), "chisquare": (CAT,), "z": (CAT,), "jensenshannon": (NUM, CAT)}


def computed_here(method: str, kind: str) -> bool:
    """Whether this module computes ``method`` for a column read as ``kind``."""
    return kind in KINDS.get(method, ())


def evidently_default(kind: str, reference_present: int, distinct: int) -> str | None:
    """The method Evidently chooses itself (a column with a threshold but no method): by the
    reference's present values and the distinct values of both samples (registry
    ``_get_default_stattest``). Here the window's categories are among the reference's (unseen
    ones are left out before) and a number read as numeric has more than five distinct values, so
    ``distinct`` is the reference's. None for text (Evidently's text methods)."""
    if kind == NUM:
        return "ks" if reference_present <= 1000 else "wasserstein"
    if kind == CAT:
        if reference_present <= 1000:
            return "chisquare" if distinct > 2 else "z"
        return "jensenshannon"
    return None


# --- numbers: the reference as distinct values ascending with counts, the window's values sorted ---


def wasserstein_normed(values: np.ndarray, counts: np.ndarray, std: float, current: np.ndarray) -> float:
    """The first Wasserstein distance normed by the reference's standard deviation (at least 0.001):
    scipy's ``_cdf_distance(1, ...)``, the integral of |U - V| over the sorted values of both samples,
    with the reference's counts as weights; ``current`` sorted. Both CDFs are running counts along
    the merged values (a stable sort of two sorted runs is one merge); where values tie, the step
    to the next value is 0, so the sum is scipy's."""
    every = np.concatenate((values, current))
    order = np.argsort(every, kind="stable")
    every = every[order]
    from_ref = order < len(values)
    ref_cdf = np.cumsum(np.where(from_ref, counts[np.minimum(order, len(values) - 1)], 0))
    cur_cdf = np.cumsum(~from_ref)
    gaps = np.diff(every)
    distance_ = float(np.dot(np.abs(ref_cdf[:-1] / ref_cdf[-1] - cur_cdf[:-1] / current.size), gaps))
    return distance_ / max(float(std), 0.001)


def ks(values: np.ndarray, counts: np.ndarray, current: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov test's p-value (scipy's ``ks_2samp``, as Evidently calls it)."""
    return float(ks_2samp(np.repeat(values, counts), current)[1])


def jensenshannon_numbers(values: np.ndarray, counts: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance of a number: over Sturges bins of both samples when the reference has
    more than 20 distinct values, else over the distinct values of both (``get_binned_data``)."""
    n_ref, n_cur = int(counts.sum()), current.size
    if len(values) > 20:
        bins = np.histogram_bin_edges(np.concatenate((np.repeat(values, counts), current)), bins="sturges")
        ref_share = np.histogram(values, bins, weights=counts)[0] / n_ref
        cur_share = np.histogram(current, bins)[0] / n_cur
    else:
        keys = np.union1d(values, current)
        ref_share = np.zeros(len(keys))
        ref_share[keys.searchsorted(values)] = counts
        ref_share /= n_ref
        cur_keys, cur_counts = np.unique(current, return_counts=True)
        cur_share = np.zeros(len(keys))
        cur_share[keys.searchsorted(cur_keys)] = cur_counts
        cur_share /= n_cur
    return float(distance.jensenshannon(ref_share, cur_share))


# --- categories: counts of the reference's categories in both samples ---------------------------


def chisquare(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Chi-square's p-value, the window's counts against the reference's scaled to the window's size."""
    k_norm = cur_counts.sum() / ref_counts.sum()
    return float(chisquare_test(cur_counts, ref_counts * k_norm)[1])


def z(ref_counts: np.ndarray, cur_counts: np.ndarray, first: int) -> float:
    """The two-proportion Z-test's p-value: the share of values other than the first category in
    Evidently's order (``first``: its index; the categories sorted) in each sample."""
    n1, n2 = int(ref_counts.sum()), int(cur_counts.sum())
    p1 = float(n1 - int(ref_counts[first])) / n1
    p2 = float(n2 - int(cur_counts[first])) / n2
    both = float(p1 * n1 + p2 * n2) / (n1 + n2)
    statistic = (p1 - p2) / np.sqrt(both * (1 - both) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - norm.cdf(np.abs(statistic))))


def jensenshannon_categories(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Jensen-Shannon distance over the categories, each sample's shares of its own size."""
    return float(distance.jensenshannon(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()))


def category_effect(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Sift's effect size of categories: the Jensen-Shannon distance over the reference's categories
    (as :func:`core.monitoring.drift.effect_size` computes it from the rows)."""
    p = ref_counts / ref_counts.sum()
    q = cur_counts / cur_counts.sum()
    middle = (p + q) / 2
    divergence = (rel_entr(p, middle).sum() + rel_entr(q, middle).sum()) / 2
    return float(np.sqrt(max(float(divergence), 0.0)))


def score(method: str, kind: str, reference, current: np.ndarray, *, first: int = 0) -> float:
    """``method``'s score of a column read as ``kind``: ``reference`` its
    :class:`~core.monitoring.profile.ColumnProfile`; ``current`` the window's values sorted
    (numbers) or its counts of the reference's categories (categories)."""
    if kind == NUM:
        if method == "wasserstein":
            return wasserstein_normed(reference.values, reference.counts, reference.std, current)
        if method == "ks":
            return ks(reference.values, reference.counts, current)
        if method == "jensenshannon":
            return jensenshannon_numbers(reference.values, reference.counts, current)
    elif kind == CAT:
        if method == "chisquare":
            return chisquare(reference.counts, current)
        if method == "z":
            return z(reference.counts, current, first)
        if method == "jensenshannon":
            return jensenshannon_categories(reference.counts, current)
    raise ValueError(f"{method} is not computed here for a column read as {kind}")
