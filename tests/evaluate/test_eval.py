"""The labeled set's figures, and the metric code checked on hand-computed cases."""
from __future__ import annotations

from qa.evaluate.labeled import DEFAULT_QUESTIONS, LabeledReport, contains, evaluate_labeled, load_questions, rank_of
from qa.types import Answer, Citation


def _answer(*passages):
    return Answer("q", "t", [Citation(n, "s", "t", p, 0, len(p), 0.0, p) for n, p in enumerate(passages, 1)])


def test_rank_and_contains_on_hand_checked_cases():
    assert contains("China’s $9.3 billion", "china's $9.3 BILLION")
    assert rank_of(_answer("nothing", "also nothing", "the answer is 42"), "answer is 42") == 3
    assert rank_of(_answer("nothing"), "42") is None
    r = LabeledReport(answerable=4, hit1=2, hit5=3, reciprocal_ranks=[1, 1, 1 / 3, 0])
    assert r.metrics()["MRR"] == (1 + 1 + 1 / 3) / 4


def test_labeled_set_has_the_promised_shape():
    items = load_questions(DEFAULT_QUESTIONS)
    assert sum("turns" not in i and i.get("answerable", True) for i in items) >= 40
    assert sum(i.get("answerable", True) is False for i in items) >= 6
    assert sum("turns" in i for i in items) >= 3


def test_labeled_set_meets_the_quality_bar(shipped_bot):
    report = evaluate_labeled(shipped_bot, load_questions(DEFAULT_QUESTIONS))
    m = report.metrics()
    assert m["hit@1"] >= 0.85, report.failures
    assert m["hit@5"] >= 0.95, report.failures
    assert m["highlight accuracy"] >= 0.75, report.failures
    assert m["abstention rate (unanswerable)"] == 1.0, report.failures
    assert report.false_abstentions <= report.answerable / 40, report.failures
