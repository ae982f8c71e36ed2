"""Files from other locales: spreadsheet exports in the encoding of their language are read exactly.

Each table is written with Python's own codecs, at a realistic size and as a small file of a few
rows (small samples are where encoding detectors fail), and must read back cell for cell.
"""

import random
from pathlib import Path

import pandas as pd
import pytest

from core.datasets.reading import SNIFF_BYTES, read_csv, sniff
from core.datasets.versions import ingest, load_frame
from core.errors import InputFileError

# (header, words for the two text columns, classes): the last column is the target
TABLES = {
    "japanese": (
        ["都市", "商品名", "数量", "価格", "評価"],
        ["東京", "大阪", "名古屋", "札幌", "福岡", "京都", "横浜", "神戸"],
        ["りんご", "みかん", "ぶどう", "もも", "なし", "メロン", "スイカ", "いちご"],
        ["良い", "普通", "悪い"],
    ),
    "chinese": (
        ["城市", "产品名称", "数量", "价格", "评价"],
        ["北京", "上海", "广州", "深圳", "成都", "杭州", "武汉", "西安"],
        ["苹果", "香蕉", "葡萄", "橙子", "西瓜", "草莓", "梨子", "桃子"],
        ["好", "一般", "差"],
    ),
    "russian": (
        ["Город", "Товар", "Количество", "Цена", "Оценка"],
        ["Москва", "Санкт-Петербург", "Новосибирск", "Екатеринбург", "Казань", "Самара", "Омск", "Уфа"],
        ["яблоко", "груша", "виноград", "апельсин", "арбуз", "клубника", "слива", "персик"],
        ["хорошо", "средне", "плохо"],
    ),
    "czech": (
        ["Město", "Výrobek", "Množství", "Cena", "Hodnocení"],
        ["Praha", "Brno", "Ostrava", "Plzeň", "Liberec", "Olomouc", "České Budějovice", "Hradec Králové"],
        ["jablko", "hruška", "švestka", "třešeň", "meruňka", "broskev", "rybíz", "angrešt"],
        ["dobré", "průměrné", "špatné"],
    ),
    "polish": (
        ["Miasto", "Produkt", "Ilość", "Cena", "Ocena"],
        ["Łódź", "Kraków", "Wrocław", "Gdańsk", "Poznań", "Szczecin", "Bydgoszcz", "Białystok"],
        ["jabłko", "gruszka", "śliwka", "wiśnia", "żurawina", "morela", "porzeczka", "agrest"],
        ["dobrze", "średnio", "źle"],
    ),
    "french": (
        ["Ville", "Produit", "Quantité", "Prix", "Évaluation"],
        ["Paris", "Orléans", "Besançon", "Nîmes", "Saint-Étienne", "Köln", "Zürich", "Málaga"],
        ["pâté", "crème brûlée", "café", "soufflé", "bœuf", "gâteau", "€ spécial", "müsli"],
        ["bon", "moyen", "très bon"],
    ),
}

# (table, encoding as written, delimiter): what a spreadsheet program in that locale saves
EXPORTS = [
    ("japanese", "shift_jis", ","),
    ("japanese", "cp932", "\t"),
    ("chinese", "gb18030", ","),
    ("chinese", "gbk", ","),
    ("russian", "cp1251", ";"),
    ("czech", "cp1250", ";"),
    ("polish", "cp1250", ";"),
    ("french", "cp1252", ";"),
    ("japanese", "utf-16-le", "\t"),  # "Unicode text" without a byte order mark
    ("russian", "utf-16-be", "\t"),
    ("czech", "utf-16-le", "\t"),
]


def _table(language: str, rows: int, seed: int = 0) -> pd.DataFrame:
    header, places, things, classes = TABLES[language]
    rng = random.Random(seed)
    records = [
        [
            rng.choice(places),
            rng.choice(things),
            str(rng.randint(1, 50)),
            f"{rng.randint(100, 99_999) / 100:.2f}",
            classes[i % len(classes)],
        ]
        for i in range(rows)
    ]
    return pd.DataFrame(records, columns=header)


def _write(path: Path, table: pd.DataFrame, encoding: str, delimiter: str) -> Path:
    lines = [delimiter.join(table.columns)] + [delimiter.join(r) for r in table.itertuples(index=False)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def _same_cells(read: pd.DataFrame, table: pd.DataFrame) -> None:
    assert list(read.columns) == list(table.columns)
    for column in table.columns[[0, 1, 4]]:
        assert read[column].tolist() == table[column].tolist()
    assert read[table.columns[2]].astype(str).tolist() == table[table.columns[2]].tolist()


@pytest.mark.parametrize("rows", [300, 3], ids=["300 rows", "3 rows"])
@pytest.mark.parametrize(("language", "encoding", "delimiter"), EXPORTS, ids=[f"{t}-{e}" for t, e, _ in EXPORTS])
def test_exports_from_other_locales_read_back_exactly(
    tmp_path: Path, language: str, encoding: str, delimiter: str, rows: int
) -> None:
    table = _table(language, rows)
    read = read_csv(_write(tmp_path / "export.csv", table, encoding, delimiter))
    assert read.delimiter == delimiter
    _same_cells(read.frame, table)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("rows", [2, 5, 40])
@pytest.mark.parametrize(("language", "encoding"), [("french", "cp1252"), ("czech", "cp1250"), ("russian", "cp1251")])
def test_small_single_byte_files_are_not_mistaken_for_a_neighbouring_code_page(
    tmp_path: Path, language: str, encoding: str, rows: int, seed: int
) -> None:
    table = _table(language, rows, seed)
    _same_cells(read_csv(_write(tmp_path / "small.csv", table, encoding, ";")).frame, table)


def test_a_japanese_export_ingests_with_its_target_found(sessions, tmp_path: Path) -> None:
    table = _table("japanese", 300)
    path = _write(tmp_path / "売上.csv", table, "shift_jis", ",")
    with sessions.begin() as session:
        version, _ = ingest(session=session, path=path, name="sales", target="評価")
    assert version.roles["評価"] == "target" and version.roles["都市"] == "categorical"
    with sessions() as session:
        stored = load_frame(session=session, version=version)
    assert stored["評価"].value_counts().to_dict() == {"良い": 100, "普通": 100, "悪い": 100}
    assert stored["商品名"].tolist() == table["商品名"].tolist()


@pytest.mark.parametrize("rows", [SNIFF_BYTES // 12, SNIFF_BYTES // 5], ids=["within the sniffed start", "past it"])
def test_a_few_cyrillic_rows_after_many_plain_ones_are_found(tmp_path: Path, rows: int) -> None:
    plain = "".join(f"{i};{i % 7}\r\n" for i in range(rows))
    tail = "Санкт-Петербург;1\r\nКазань;2\r\n"
    path = tmp_path / "late.csv"
    path.write_bytes(b"id;n\r\n" + plain.encode() + tail.encode("cp1251"))
    read = read_csv(path)
    assert read.encoding == "cp1251" and read.frame["id"].iloc[-2:].tolist() == ["Санкт-Петербург", "Казань"]


def test_a_file_in_two_encodings_is_refused(tmp_path: Path) -> None:
    head = "Город;n\r\n" + "".join(f"Москва;{i}\r\n" for i in range(SNIFF_BYTES // 14 + 10))
    path = tmp_path / "late.csv"
    path.write_bytes(head.encode("utf-8") + "Казань;2\r\n".encode("cp1251"))
    with pytest.raises(
        InputFileError, match=r"late.csv mixes encodings \(UTF-8 at its start, .* further on\).*CSV UTF-8"
    ):
        read_csv(path)


def test_a_file_that_cannot_be_read_with_confidence_is_refused_with_what_to_do(tmp_path: Path) -> None:
    # lines saved in three encodings, as a copy and paste between programs leaves them
    mixed = "a,b\r\n1,café\r\n".encode("cp1252") + "2,東京\r\n".encode("shift_jis") + "3,фыва\r\n".encode()
    path = tmp_path / "mixed.csv"
    path.write_bytes(mixed)
    with pytest.raises(InputFileError, match=r"mixed.csv: the characters could not be read with confidence.*CSV UTF-8"):
        sniff(path)
