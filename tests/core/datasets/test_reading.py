"""Reading files: encodings, delimiters, quoting, whitespace and missing markers."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.datasets.reading import DEFAULT_MISSING_MARKERS, iter_csv, read_csv, sniff
from core.errors import ColumnError, InputFileError


def _write(tmp_path: Path, content: bytes, name: str = "input.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_cp1252_file_with_accents_and_euro_sign(tmp_path: Path) -> None:
    text = "name;price;Class\nCafé crème;3;a\nPrix en €;5;b\nNaïve;7;a\n"
    path = _write(tmp_path, text.encode("cp1252"))
    read = read_csv(path)
    assert read.encoding == "cp1252" and read.delimiter == ";"
    assert read.frame["name"].tolist() == ["Café crème", "Prix en €", "Naïve"]


def test_utf16_without_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    for encoding in ("utf-16-le", "utf-16-be"):
        path = _write(tmp_path, "a\tb\n1\tplain\n2\tälter\n".encode(encoding))
        assert read_csv(path).frame["b"].tolist() == ["plain", "älter"]


def test_cp1252_byte_after_the_sniffed_start_is_read_as_cp1252(tmp_path: Path) -> None:
    rows = b"".join(b"%d,plain\n" % i for i in range(200_000))  # more than the sniffed sample
    path = _write(tmp_path, b"a,b\n" + rows + "9,café\n".encode("cp1252"))
    read = read_csv(path)
    assert read.encoding == "cp1252" and read.frame["b"].iloc[-1] == "café"


def test_utf8_with_bom_has_a_clean_first_header(tmp_path: Path) -> None:
    path = _write(tmp_path, "\ufeffÉtat,b\nà,1\nç,2\n".encode())
    read = read_csv(path)
    assert read.encoding == "utf-8-sig"
    assert list(read.frame.columns) == ["État", "b"] and read.frame["État"].tolist() == ["à", "ç"]


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    path = _write(tmp_path, "a\tb\n1\té\n2\tü\n".encode("utf-16"))
    read = read_csv(path)
    assert read.delimiter == "\t" and read.frame["b"].tolist() == ["é", "ü"]


@pytest.mark.parametrize(("delimiter", "name"), [(",", "comma"), (";", "semicolon"), ("\t", "tab"), ("|", "pipe")])
def test_delimiters(tmp_path: Path, delimiter: str, name: str) -> None:
    # values hold the other delimiters, so only the right one gives a steady column count
    others = "".join(d for d in ",;|" if d != delimiter)
    rows = [delimiter.join(["x", "note", "y"])]
    rows += [delimiter.join([str(i), f'"a{others}b"', str(i * 2)]) for i in range(10)]
    path = _write(tmp_path, ("\n".join(rows) + "\n").encode(), f"{name}.csv")
    read = read_csv(path)
    assert read.delimiter == delimiter
    assert list(read.frame.columns) == ["x", "note", "y"]
    assert read.frame["note"].iloc[0] == f"a{others}b" and read.frame["y"].sum() == 90


def test_semicolon_file_with_decimal_commas(tmp_path: Path) -> None:
    path = _write(tmp_path, b"a;b\n1,5;x\n2,25;y\n3;z\n")
    assert read_csv(path).delimiter == ";"


def test_quoted_cells_with_line_breaks_and_delimiters(tmp_path: Path) -> None:
    path = _write(tmp_path, b'id,note,n\n1,"first line\nsecond line",3\n2,"a, b and ""c""",4\n')
    frame = read_csv(path).frame
    assert frame["note"].tolist() == ["first line\nsecond line", 'a, b and "c"']
    assert frame["n"].tolist() == [3, 4]


def test_a_lone_carriage_return_inside_a_value_of_a_line_feed_file_stays_in_the_value(tmp_path: Path) -> None:
    """pandas and Python's csv module quote a value with a line feed but not one with a lone carriage
    return (tweets, pasted notes): in a file whose lines end with a line feed, it is part of the value."""
    frame = pd.DataFrame({"note": ["plain", "two\rlines", "first\r\rthird", "quoted\nbreak"], "n": [1, 2, 3, 4]})
    path = tmp_path / "notes.csv"
    frame.to_csv(path, index=False)
    assert b"two\rlines,2" in path.read_bytes()  # written unquoted
    read = read_csv(path).frame
    assert read["note"].tolist() == frame["note"].tolist() and read["n"].tolist() == [1, 2, 3, 4]
    _, chunks = iter_csv(path, chunksize=2)
    assert pd.concat(list(chunks))["note"].tolist() == frame["note"].tolist()


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = _write(tmp_path, b'a,b,c\r\n1,x,"multi\r\nline"\r\n2,y,z\r\n')
    frame = read_csv(path).frame
    assert list(frame.columns) == ["a", "b", "c"]
    assert frame["b"].tolist() == ["x", "y"] and frame["a"].tolist() == [1, 2]
    assert not any(str(v).endswith("\r") for v in frame["c"])


def test_whitespace_around_headers_and_values_is_stripped(tmp_path: Path) -> None:
    path = _write(tmp_path, b" size , colour ,  Class\n 1.5 ,  red ,a \n2, blue  , b\n 3 ,NA ,a\n")
    frame = read_csv(path).frame
    assert list(frame.columns) == ["size", "colour", "Class"]
    assert frame["colour"].tolist()[:2] == ["red", "blue"] and pd.isna(frame["colour"].iloc[2])
    assert frame["Class"].tolist() == ["a", "b", "a"]
    assert frame["size"].dtype.kind == "f" and frame["size"].tolist() == [1.5, 2.0, 3.0]


@pytest.mark.parametrize("marker", ["", "NA", "N/A", "null", "?", "NULL", "n/a", " NA "])
def test_each_missing_marker(tmp_path: Path, marker: str) -> None:
    # the third column keeps the row: a row with every value missing is dropped
    path = _write(tmp_path, f"n,c,k\n1,x,1\n{marker},{marker},2\n3,y,3\n".encode())
    frame = read_csv(path).frame
    assert frame["n"].isna().tolist() == [False, True, False] and frame["n"].dtype.kind == "f"
    assert frame["c"].isna().tolist() == [False, True, False]


def test_a_changed_marker_list(tmp_path: Path) -> None:
    path = _write(tmp_path, b"n,c\n1,NA\n-1,?\n3,missing\n,x\n")
    default = read_csv(path).frame
    assert default["c"].isna().tolist() == [True, True, False, False]
    changed = read_csv(path, missing_markers=["", "missing", "-1"])
    assert changed.missing_markers == ["", "missing", "-1"]
    assert changed.frame["c"].tolist()[:2] == ["NA", "?"] and pd.isna(changed.frame["c"].iloc[2])
    assert changed.frame["n"].isna().tolist() == [False, True, False, True]
    no_empty = read_csv(path, missing_markers=["NA"]).frame
    assert no_empty["c"].isna().tolist() == [True, False, False, False]
    assert DEFAULT_MISSING_MARKERS == ("", "NA", "N/A", "null", "?")


def test_empty_header_names_get_a_name(tmp_path: Path) -> None:
    path = _write(tmp_path, b",a,\n0,1,2\n1,3,4\n")
    assert list(read_csv(path).frame.columns) == ["column_1", "a", "column_3"]


@pytest.mark.parametrize(
    ("content", "error", "words"),
    [
        (b"", InputFileError, "is empty"),
        (b"\n \r\n\t\n", InputFileError, "is empty"),
        (b"\xef\xbb\xbf", InputFileError, "is empty"),
        (b"a,b,Class\n", InputFileError, "header but no rows"),
        (b"a,b,Class\n\n\n", InputFileError, "header but no rows"),
        (b"a,b,Class\n,,\n,,\nNA, ,null\n", InputFileError, "header but no rows"),
        (b"a,b,a\n1,2,3\n", ColumnError, "duplicate column names: 'a'"),
        (b"a, b ,b\n1,2,3\n", ColumnError, "duplicate column names: 'b'"),
        (b"a,b\n1,2\n3,4,5\n", InputFileError, "more fields than the header|3 fields but the header has 2"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, InputFileError, r"Excel workbook \(\.xls\)"),
        (b"PK\x03\x04rest-of-a-zip", InputFileError, "Excel workbook"),
        (b"%PDF-1.7\n...", InputFileError, "PDF"),
        (b"a,b\n1,\x00\x01\x02\n", InputFileError, "not a text file"),
    ],
    ids=[
        "empty",
        "blank lines",
        "byte order mark only",
        "header only",
        "header and blank lines",
        "header and empty rows",
        "duplicate names",
        "duplicate after stripping",
        "row wider than header",
        "xls",
        "zip",
        "pdf",
        "binary",
    ],
)
def test_unreadable_files_are_refused(tmp_path: Path, content: bytes, error, words) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(error, match=words):
        read_csv(path)


def test_an_xlsx_workbook_renamed_csv_is_named_as_a_workbook(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "sales.csv"
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr("xl/workbook.xml", "<workbook/>")
        book.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    with pytest.raises(InputFileError, match=r"sales.csv is an Excel workbook \(\.xlsx\).*save it as"):
        read_csv(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not found"):
        read_csv(tmp_path / "nope.csv")
    with pytest.raises(InputFileError, match="is a folder"):
        read_csv(tmp_path)


def test_too_many_columns_are_refused(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(1600))
    path = _write(tmp_path, (header + "\n" + ",".join(["1"] * 1600) + "\n").encode())
    with pytest.raises(ColumnError, match="at most 1,500"):
        sniff(path)


def test_iter_csv_reads_chunks_with_the_same_rules(tmp_path: Path) -> None:
    body = "".join(f"{i}, v{i % 3} ,{'NA' if i % 4 == 0 else i}\n" for i in range(10))
    path = _write(tmp_path, b" a , b ,c\n" + body.encode())
    fmt, chunks = iter_csv(path, chunksize=4)
    parts = list(chunks)
    assert fmt.names == ["a", "b", "c"] and [len(p) for p in parts] == [4, 4, 2]
    whole = pd.concat(parts)
    assert whole["b"].tolist()[:3] == ["v0", "v1", "v2"]
    assert whole["c"].isna().sum() == 3
    assert np.array_equal(whole["a"].to_numpy(), np.arange(10))


def test_true_false_with_gaps_reads_as_lowercase_text_like_a_full_column(tmp_path: Path) -> None:
    frame = read_csv(_write(tmp_path, b"a,b\nTrue,1\nFALSE,2\n,3\n")).frame
    assert frame["a"].tolist() == ["true", "false", None]


def test_rows_with_every_field_missing_are_dropped(tmp_path: Path) -> None:
    rows = [f"{i},{i * 2.5},{'true' if i % 2 else 'false'},c{i}\n" for i in range(6)]
    empty = ",,,\n"
    path = _write(tmp_path, ("n,x,flag,name\n" + "".join(rows[:3]) + empty + "".join(rows[3:]) + empty * 2).encode())
    frame = read_csv(path).frame
    assert len(frame) == 6 and frame.index.tolist() == list(range(6))
    assert frame["n"].tolist() == list(range(6)) and frame["name"].tolist() == [f"c{i}" for i in range(6)]
    # typed as the same file without the empty rows reads
    assert frame["n"].dtype == "int64" and frame["x"].dtype == "float64" and frame["flag"].dtype == bool


def test_a_row_with_some_values_is_kept(tmp_path: Path) -> None:
    frame = read_csv(_write(tmp_path, b"a,b,c\n1,x,2\n,,3\n,y,\n")).frame
    assert len(frame) == 3 and frame["a"].isna().sum() == 2 and frame["a"].dtype == "float64"


@pytest.mark.parametrize(
    ("head", "words"),
    [
        (
            "# exported 2024-01-01\n# source: crm\n",
            r"input.csv starts with 2 lines that look like comments \('# exported 2024-01-01'\): delete them so that "
            "the first line holds the column names.",
        ),
        ("#exported by crm\n", r"starts with a line that looks like a comment \('#exported by crm'\): delete it "),
    ],
)
def test_comment_lines_before_the_header_are_named(tmp_path: Path, head: str, words: str) -> None:
    path = _write(tmp_path, (head + "age,income,bought\n31,1000,yes\n45,2000,no\n").encode())
    with pytest.raises(InputFileError, match=words):
        read_csv(path)


def test_a_header_starting_with_a_hash_is_a_header(tmp_path: Path) -> None:
    frame = read_csv(_write(tmp_path, b"#,age,bought\n1,31,yes\n2,45,no\n")).frame
    assert list(frame.columns) == ["#", "age", "bought"]
