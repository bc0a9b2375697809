from __future__ import annotations

import pytest

from desktop_search.errors import QueryError
from desktop_search.fusion import (
    Tuning,
    best_per_group,
    max_per_group,
    rrf,
    score_fusion,
    sigmoid,
)
from desktop_search.query import parse_date, parse_query
from desktop_search.snippets import HL_END, HL_START, make_snippet


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
    pq = parse_query('say "hello')
    assert pq.terms == ["say", "hello"] and pq.phrases == [] and pq.text == "say hello"


def test_apostrophes_are_letters_not_quotes() -> None:
    # shlex would have eaten the apostrophes and glued the words between them
    pq = parse_query("men's and women's health")
    assert pq.text == "men's and women's health"
    assert pq.terms == ["men", "women", "health"]  # FTS5 splits "men's" into men + s
    assert pq.phrases == []


def test_phrase_words_are_searched_as_the_phrase() -> None:
    pq = parse_query('risk of "heart   attack" in winter')
    assert pq.phrases == ["heart attack"]
    assert pq.terms == ["risk", "winter"]
    assert pq.text == "risk of heart   attack in winter"
    assert pq.phrase_expression() == '"heart attack"'
    assert pq.fts_expression() == '("risk" OR "winter") AND "heart attack"'


def test_single_quoted_word_must_appear() -> None:
    pq = parse_query('the "kidney" stone')
    assert pq.phrases == ["kidney"] and pq.terms == ["stone"]


def test_exclusions_words_phrases_and_negative_numbers() -> None:
    pq = parse_query('insulin -"side effect" -Mice -5 degrees')
    assert pq.excluded == ["side effect", "mice"]
    assert pq.excluded_expression() == '"side effect" OR "mice"'
    assert pq.terms == ["insulin", "5", "degrees"]  # "-5" is a number, not an exclusion
    assert "Mice" not in pq.text and "side" not in pq.text


def test_filters_take_quoted_values_and_aliases() -> None:
    pq = parse_query('budget in:"My Documents" type:doc ext:.md before:2024 after:2023-06')
    assert pq.folders == ["My Documents"]
    assert pq.kinds == ["docx", "odt", "markdown"]
    assert pq.before is not None and pq.after is not None and pq.after < pq.before
    assert pq.text == "budget" and pq.terms == ["budget"]
    # a word with a colon that is no filter stays a word
    assert parse_query("ratio:high").terms == ["ratio", "high"]


def test_stop_words_can_be_kept() -> None:
    assert parse_query("the effect of it", stop_words=False).terms == ["the", "effect", "of", "it"]
    assert parse_query("the effect of it").terms == ["effect"]
    assert parse_query("the who").terms == ["the", "who"]  # only stop words: search them


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


def test_weighted_rrf_by_hand() -> None:
    s = rrf([[1, 2], [2, 3]], k=10, weights=[2.0, 0.5])
    assert s[1] == pytest.approx(2 / 11)
    assert s[2] == pytest.approx(2 / 12 + 0.5 / 11)
    assert s[3] == pytest.approx(0.5 / 12)


def test_score_fusion_by_hand() -> None:
    dense = {1: 0.9, 2: 0.7, 3: 0.5}  # min-max: 1.0, 0.5, 0.0
    bm25 = {2: 12.0, 4: 4.0}  # min-max: 1.0, 0.0
    s = score_fusion([dense, bm25], weights=[1.0, 0.5])
    assert s == pytest.approx({1: 1.0, 2: 0.5 + 0.5, 3: 0.0, 4: 0.0})
    assert score_fusion([{7: 3.0}, {}]) == {7: 1.0}  # one candidate: full score


def test_file_level_grouping_helpers() -> None:
    file_of = {10: 1, 11: 1, 20: 2, 30: 3}.__getitem__
    assert best_per_group([11, 20, 10, 30], file_of) == [1, 2, 3]
    assert max_per_group({10: 0.2, 11: 0.9, 20: 0.5}, file_of) == {1: 0.9, 2: 0.5}
    # file-level RRF: a file with two chunks high in one list does not push others down
    dense = [10, 11, 20]
    keyword = [20, 30]
    files = rrf([best_per_group(dense, file_of), best_per_group(keyword, file_of)], k=60)
    assert files[2] == pytest.approx(1 / 62 + 1 / 61)
    assert files[1] == pytest.approx(1 / 61)
    assert max(files, key=files.__getitem__) == 2


def test_tuning_validation() -> None:
    from desktop_search.errors import QueryError

    assert Tuning().validate() == Tuning()
    with pytest.raises(QueryError, match="unknown fusion"):
        Tuning(fusion="max").validate()
    with pytest.raises(QueryError, match="negative"):
        Tuning(dense_weight=-1).validate()
    assert sigmoid(0.0) == 0.5 and sigmoid(-1000.0) == 0.0 and sigmoid(1000.0) == 1.0


def test_snippet_ignores_stray_marks() -> None:
    snip, spans = make_snippet(f"x{HL_END} a {HL_START}{HL_START}b{HL_END} c {HL_START}dd")
    assert snip == "x a b c dd"
    assert [snip[a:b] for a, b in spans] == ["b"]
