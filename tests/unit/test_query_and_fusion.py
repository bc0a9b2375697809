from __future__ import annotations

import pytest

from desktop_search.errors import QueryError
from desktop_search.query import parse_date, parse_query
from desktop_search.search import HL_END, HL_START, make_snippet, rrf


def test_terms_drop_stop_words() -> None:
    pq = parse_query("what is the effect of vitamin D on bones")
    assert pq.terms == ["effect", "vitamin", "d", "bones"]
    assert pq.text == "what is the effect of vitamin D on bones"


def test_phrases_exclusions_and_filters() -> None:
    pq = parse_query('"heart attack" risk -smoking type:pdf in:~/Documents after:2024-01-01')
    assert pq.phrases == ["heart attack"]
    assert pq.excluded == ["smoking"]
    assert pq.kinds == ["pdf"]
    assert pq.folders == ["~/Documents"]
    assert pq.after is not None and pq.before is None
    assert "type:" not in pq.text and "-smoking" not in pq.text
    expr = pq.fts_expression()
    assert expr is not None
    assert '"heart attack"' in expr and 'NOT "smoking"' in expr


def test_fts_syntax_in_user_input_is_quoted() -> None:
    pq = parse_query('NEAR( "a AND b" OR) * ^col:x')
    expr = pq.fts_expression()
    assert expr is not None and expr.count('"') % 2 == 0


def test_unbalanced_quote_is_read_literally() -> None:
    assert parse_query('say "hello').terms == ["say", "hello"]


def test_bad_date_is_a_clear_error() -> None:
    with pytest.raises(QueryError, match="cannot read the date"):
        parse_date("next tuesday")
    assert parse_date("7d") < parse_date("1d")


def test_rrf_by_hand() -> None:
    s = rrf([[1, 2, 3], [3, 1]], k=60)
    assert s[1] == pytest.approx(1 / 61 + 1 / 62)
    assert s[3] == pytest.approx(1 / 63 + 1 / 61)
    assert s[2] == pytest.approx(1 / 62)
    assert sorted(s, key=lambda c: -s[c]) == [1, 3, 2]


def test_snippet_centres_on_marks_and_maps_offsets() -> None:
    text = "lorem ipsum " * 60 + f"the {HL_START}kidney{HL_END} is an organ " + "dolor " * 60
    snip, spans = make_snippet(text, width=120)
    assert len(spans) == 1
    a, b = spans[0]
    assert snip[a:b] == "kidney"
    assert snip.startswith("…") and snip.endswith("…")
    assert len(snip) < 160
