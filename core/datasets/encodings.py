"""Which encoding a text file is in: a byte order mark or valid UTF-8 at once, otherwise
charset-normalizer among the encodings spreadsheet programs write, with the reading whose
accented letters fit one language preferred where several read the sample equally well."""

from __future__ import annotations

import codecs
import itertools
import re
import unicodedata
from collections import Counter

import charset_normalizer

# What spreadsheet programs write when they save "CSV" in a given locale: the Windows code pages
# (Western, Central European, Cyrillic, Greek, Turkish, Hebrew, Arabic, Baltic, Vietnamese, Thai),
# Japanese, Chinese and Korean, and "Unicode text" (UTF-16/32, sometimes without a byte order mark).
# Where several read the sample equally well the first wins: cp1252, what Windows writes in Western
# Europe and the Americas, comes first.
EXPORT_ENCODINGS = (
    "cp1252",
    "cp1250",
    "cp1251",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp1257",
    "cp1258",
    "cp874",
    "cp932",
    "gb18030",
    "cp949",
    "big5",
    "utf_16_le",
    "utf_16_be",
    "utf_32_le",
    "utf_32_be",
)
# how much more "mess" (charset-normalizer's measure of implausible characters; noisy on a few
# rows) a reading may show and still be weighed by its letters; then how much more mess or less
# language coherence than the best still counts as reading the sample equally well
_MESS_TOLERANCE = 0.1
_MESS_TIE = 0.02
_COHERENCE_MARGIN = 0.03
# the letters beyond a-z of languages written in Latin script: where code pages read a sample
# equally well by charset-normalizer's measures, the reading whose letters all belong to one
# language wins ('Město' in Windows-1250, not 'Mìsto' in Windows-1252: no language has ì and ý)
LATIN_ALPHABETS = {
    "Catalan": "àçèéíïòóúü",
    "Croatian and Slovene": "čćđšž",
    "Czech": "áčďéěíňóřšťúůýž",
    "Danish and Norwegian": "åæéóøü",
    "Dutch": "áéëíïóöúü",
    "Estonian": "äõöüšž",
    "Finnish and Swedish": "åäéöü",
    "French": "àâæçèéêëîïôœùûüÿ",
    "German": "äéöüß",
    "Hungarian": "áéíóöőúüű",
    "Icelandic": "áæðéíóöúýþ",
    "Italian": "àèéìíîòóùú",
    "Latvian": "āčēģīķļņšūž",
    "Lithuanian": "ąčęėįšūųž",
    "Polish": "ąćęłńóśźż",
    "Portuguese": "àáâãçéêíóôõúü",
    "Romanian": "ăâîşșţț",
    "Slovak": "áäčďéíĺľňóôŕšťúýž",
    "Spanish": "áéíñóúü",
    "Turkish": "âçğıîöşü",
    "Vietnamese": "àáâãèéêìíòóôõùúýăđĩũơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ",
}
_LATIN_LETTERS = {name: frozenset(letters) for name, letters in LATIN_ALPHABETS.items()}


# a reading is weighed on at most this many of its characters beyond ASCII
_FIT_CHARACTERS = 20_000
_BEYOND_ASCII = re.compile(r"[^\x00-\x7f]")


def _one_alphabet(text: str) -> float:
    """How well the characters beyond ASCII in ``text`` fit one language, from 0 to 1.

    They fit when they are accented Latin letters of the likeliest single language, or letters of
    another script in words of their own; they do not when another script's letter sits in a
    Latin word ('ةvaluation' for 'Évaluation') or a symbol inside a word ('Iloœæ' for 'Ilość').
    """
    latin: Counter[str] = Counter()
    fitting = misfits = 0
    for found in itertools.islice(_BEYOND_ASCII.finditer(text), _FIT_CHARACTERS):
        i, c = found.start(), found.group()
        around = text[max(i - 1, 0) : i] + text[i + 1 : i + 2]
        if c.isalpha():
            if "LATIN" in unicodedata.name(c, ""):
                latin[c.lower()] += 1
            elif any(n < "\x80" and n.isalpha() for n in around):
                misfits += 1
            else:
                fitting += 1
        elif len(around) == 2 and around.isalpha():
            misfits += 1
    total = fitting + misfits + sum(latin.values())
    if not total:
        return 1.0
    in_one = max(sum(n for c, n in latin.items() if c in alphabet) for alphabet in _LATIN_LETTERS.values())
    return (fitting + in_one) / total


_ENCODING_NAMES = {
    "cp1252": "Windows-1252 (Western European)",
    "cp1250": "Windows-1250 (Central European)",
    "cp1251": "Windows-1251 (Cyrillic)",
    "cp1253": "Windows-1253 (Greek)",
    "cp1254": "Windows-1254 (Turkish)",
    "cp1255": "Windows-1255 (Hebrew)",
    "cp1256": "Windows-1256 (Arabic)",
    "cp1257": "Windows-1257 (Baltic)",
    "cp1258": "Windows-1258 (Vietnamese)",
    "cp874": "Windows-874 (Thai)",
    "cp932": "Shift-JIS (Japanese)",
    "gb18030": "GB18030 (Chinese)",
    "cp949": "EUC-KR (Korean)",
    "big5": "Big5 (Traditional Chinese)",
    "utf_16_le": "UTF-16",
    "utf_16_be": "UTF-16",
    "utf_32_le": "UTF-32",
    "utf_32_be": "UTF-32",
}


def describe_encoding(encoding: str) -> str:
    """An encoding as a spreadsheet program names it, e.g. 'Shift-JIS (Japanese)' for cp932."""
    return _ENCODING_NAMES.get(codecs.lookup(encoding).name.replace("-", "_"), encoding)


def _is_utf8(sample: bytes) -> bool:
    try:
        sample.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is still UTF-8
        return exc.reason == "unexpected end of data" and exc.start >= len(sample) - 3


def guess_encoding(sample: bytes) -> str | None:
    """The export encoding that reads ``sample`` best, by charset-normalizer; None when none reads it plausibly.

    Among the readings charset-normalizer finds about as plausible as the best (little mess), the
    ones whose accented letters fit one language best are kept, then the least messy, then the
    most coherent language (within a margin); the first of :data:`EXPORT_ENCODINGS` breaks ties.
    """
    matches = charset_normalizer.from_bytes(sample, cp_isolation=list(EXPORT_ENCODINGS))
    order = {name: rank for rank, name in enumerate(EXPORT_ENCODINGS)}
    readings = [(m, name) for m in matches for name in m.could_be_from_charset if name in order]
    if not readings:
        return None
    least_mess = min(m.chaos for m, _ in readings)
    plausible = [(m, name) for m, name in readings if m.chaos <= least_mess + _MESS_TOLERANCE]
    fits = {id(m): _one_alphabet(str(m)) for m, _ in plausible}
    best_fit = max(fits.values())
    plausible = [(m, name) for m, name in plausible if fits[id(m)] >= best_fit]
    least_mess = min(m.chaos for m, _ in plausible)
    plausible = [(m, name) for m, name in plausible if m.chaos <= least_mess + _MESS_TIE]
    most_coherent = max(m.coherence for m, _ in plausible)
    best = [name for m, name in plausible if m.coherence >= most_coherent - _COHERENCE_MARGIN]
    return min(best, key=order.__getitem__)


def detect_encoding(sample: bytes) -> str | None:
    """The encoding of the start of a file; None when it cannot be told with confidence.

    A byte order mark or valid UTF-8 decides at once (most files); anything else is read by
    :func:`guess_encoding` among the encodings spreadsheet programs write.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" not in sample and _is_utf8(sample):  # zero bytes: UTF-16/32 without a byte order mark, or binary
        return "utf-8"
    return guess_encoding(sample)


def likeliest_encoding(sample: bytes) -> str | None:
    """charset-normalizer's best reading of a sample no export encoding reads plausibly, for the refusal."""
    best = charset_normalizer.from_bytes(sample).best()
    return best.encoding if best is not None else None
