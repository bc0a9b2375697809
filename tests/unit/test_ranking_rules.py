"""The pure parts of issue 11's ranking: identifiers in queries, clean titles, noise passages,
file-name words, calibrated labels and the exact-first reordering."""

from __future__ import annotations

import base64
import random

from desktop_search.chunking import is_noise, noise_reason
from desktop_search.extract.base import clean_title, is_identifier_title
from desktop_search.fusion import exact_first as _exact_first
from desktop_search.query import parse_query
from desktop_search.relevance import GOOD_MATCH, judge
from desktop_search.store import name_words


def test_identifiers_are_codes_not_words_or_plain_numbers() -> None:
    assert parse_query("newmark21w").identifiers == ["newmark21w"]
    assert parse_query("invoice 0001045810-23-000175.").identifiers == ["0001045810-23-000175"]
    assert parse_query("IL-6 levels in COVID-19").identifiers == ["IL-6", "COVID-19"]
    assert parse_query("crash in 4.2.1").identifiers == ["4.2.1"]
    assert parse_query("growth of 3.5 percent in 2022").identifiers == []
    assert parse_query("heart attack risk").identifiers == []
    pq = parse_query('"heart attack" 0001045810-23-000175')
    assert pq.identifier_expressions() == ['"0001045810 23 000175"']
    assert pq.all_words_expression() == '"0001045810" AND "23" AND "000175" AND "heart attack"'


def test_identifier_like_metadata_titles_fall_back_to_the_file_stem() -> None:
    for junk in (
        "0001045810-23-000175",
        "Microsoft Word - draft.doc",
        "untitled",
        "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}",
        "report_v2.docx",
        "Document1",
        "",
    ):
        assert is_identifier_title(junk), junk
        assert clean_title(junk, "2022 Q3 INTC") == "2022 Q3 INTC"
    for real in ("Aviation Accident Report", "IL-6 and p53 in tumours", "临床试验 知情同意书"):
        assert clean_title(real, "stem") == real
    assert clean_title("  A   title \n split ", "stem") == "A title split"


def _tokens(text: str) -> int:  # about the bundled WordPiece model's count, for pure tests
    return sum(max(1, len(w) // 4) if w.isalpha() else len(w) for w in text.split())


def test_noise_is_random_unicode_number_tables_encoded_runs_and_repeats() -> None:
    rnd = random.Random(1)
    pool = ["\u200b", "\u200f", "\u0301", "😀", "א", "ل", "a", " "]
    junk = "".join(rnd.choice(pool) for _ in range(800))
    table = "\n".join(" ".join(str(rnd.randint(0, 99999)) for _ in range(8)) for _ in range(12))
    b64 = base64.encodebytes(rnd.randbytes(400)).decode()
    assert noise_reason(junk, len(junk)) == "symbols"
    assert noise_reason(table, _tokens(table)) == "numbers"
    assert noise_reason(b64, len(b64) // 2) is not None
    assert noise_reason("spam " * 60, 60) == "repeated"


def test_prose_tables_of_contents_links_and_cjk_are_not_noise() -> None:
    prose = (
        "The pilot reported that during the landing on runway 5, the touchdown was hard "
        "and the airplane bounced and started to porpoise before the nose gear failed."
    )
    toc = "Strategy 1.1.2. Operators & Occupants ......................................... 10"
    fin = "Net cash provided by operating activities 8,580 8,943 12,340 (6,120) (5,432)"
    links = "See https://www.federalregister.gov/documents/2020/08/10/2020-14832/paid-leave " * 2
    zh = "量子计算是一种遵循量子力学规律调控量子信息单元进行计算的新型计算模式。" * 3
    for text, n in ((prose, 40), (toc, 60), (fin, 40), (links, 60), (zh, len(zh))):
        assert not is_noise(text, n), text[:30]


def test_file_names_give_words_that_the_title_does_not_have() -> None:
    assert name_words("/r/Finance/Q3/2022 Q3 INTC.pdf", "/r") == "2022 Q3 INTC Finance Q3"
    assert name_words("/r/QuarterlyReport.pdf", "/r").split() == [
        "QuarterlyReport",
        "Quarterly",
        "Report",
    ]
    # a file named by its title adds only the folders the title does not name
    assert name_words("/r/Notes/Tomato care.txt", "/r", "Tomato care") == "Notes"


def test_labels_follow_the_calibration() -> None:
    assert judge(0.85, True, False, calibrated=True) == ("words+meaning", 69, True)
    match, rel, good = judge(0.05, False, False, calibrated=True)
    assert (match, good) == ("meaning", False) and rel is not None and rel < GOOD_MATCH
    assert judge(0.05, True, True, calibrated=True)[1:] == (40, True)  # the rare-term rule
    assert judge(0.9, True, False, calibrated=False) == ("words+meaning", None, True)


def test_exact_files_go_first_and_scores_still_fall() -> None:
    file_of = {1: 10, 2: 20, 3: 30, 4: 30}.__getitem__
    scores = {1: 1.0, 2: 0.8, 3: 0.3, 4: 0.2}
    files = {10: 1.0, 20: 0.8, 30: 0.3}
    order, new, fs = _exact_first([1, 2, 3, 4], scores, files, {4}, file_of)
    assert order == [4, 3, 1, 2]
    assert fs is not None and [fs[file_of(c)] for c in order] == sorted(
        (fs[file_of(c)] for c in order), reverse=True
    )
    assert new[4] > new[3]
