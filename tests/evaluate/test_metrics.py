"""Metric code against hand-computed values."""
from __future__ import annotations

import math

import pytest

from qa.evaluate.metrics import ndcg_at_k, ndcg_at_k_leaderboard, recall_at_k, reciprocal_rank

QRELS = {"a": 3, "b": 2, "c": 1, "z": 0}


def test_ndcg_uses_all_judged_documents_for_the_ideal():
    # retrieved: c (1), x (unjudged, 0), a (3); ideal: 3, 2, 1
    got = ndcg_at_k(["c", "x", "a"], QRELS, k=3)
    dcg = 1 / math.log2(2) + 0 + 3 / math.log2(4)
    idcg = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert got == pytest.approx(dcg / idcg)


def test_leaderboard_ndcg_uses_the_retrieved_grades_for_the_ideal():
    got = ndcg_at_k_leaderboard(["c", "x", "a"], QRELS, k=3)
    dcg = 1 + 3 / 2  # log2(4) = 2
    idcg = 3 + 1 / math.log2(3)
    assert got == pytest.approx(dcg / idcg)
    assert ndcg_at_k_leaderboard(["c"], QRELS, k=10) == 1.0  # one relevant doc retrieved first: "perfect"
    assert ndcg_at_k(["c"], QRELS, k=10) < 0.3


def test_perfect_and_empty_rankings():
    assert ndcg_at_k(["a", "b", "c"], QRELS) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], QRELS) == 0.0
    assert ndcg_at_k_leaderboard(["x", "z"], QRELS) == 0.0


def test_recall_and_reciprocal_rank():
    relevant = {"a", "b", "c"}
    assert recall_at_k(["x", "a", "y", "c"], relevant, 2) == pytest.approx(1 / 3)
    assert recall_at_k(["x", "a", "y", "c"], relevant, 10) == pytest.approx(2 / 3)
    assert reciprocal_rank(["x", "y", "b"], relevant) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x"] * 10 + ["a"], relevant, k=10) == 0.0
