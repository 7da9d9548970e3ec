"""Ranking metrics, by their standard formulas (checked on hand-computed cases in tests/test_metrics.py).

``ranked`` is the system's list of document ids, best first; ``qrels`` maps judged document
ids to relevance grades (0 = judged not relevant). Gains are linear in the grade, as in
trec_eval / pytrec_eval (which BEIR uses), with discount log2(rank + 1).
"""
from __future__ import annotations

import math


def dcg(grades: list[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(grades))


def ndcg_at_k(ranked: list[str], qrels: dict[str, int], k: int = 10) -> float:
    """BEIR's nDCG@k: the ideal ranking is built from *all* judged documents of the query."""
    ideal = dcg(sorted((g for g in qrels.values() if g > 0), reverse=True)[:k])
    return dcg([qrels.get(d, 0) for d in ranked[:k]]) / ideal if ideal > 0 else 0.0


def ndcg_at_k_leaderboard(ranked: list[str], qrels: dict[str, int], k: int = 10) -> float:
    """The embedding leaderboard's variant: the ideal is the *retrieved* top k's grades re-sorted.

    It rewards putting the best of what was retrieved first, not finding every relevant document.
    """
    grades = [qrels.get(d, 0) for d in ranked[:k]]
    ideal = dcg(sorted(grades, reverse=True))
    return dcg(grades) / ideal if ideal > 0 else 0.0


def recall_at_k(ranked: list[str], relevant: set[str], k: int) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k], 1):
        if d in relevant:
            return 1 / i
    return 0.0
