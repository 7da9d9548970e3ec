"""Evaluate: how good the answers are, measured.

``labeled`` scores the bot on labeled question sets (``qa eval``: hit@k, highlight, abstention);
``benchmarks`` runs public sets (SQuAD 2.0, BEIR-format collections such as MS MARCO) against the bot
and the ``baselines`` (dense alone, BM25 alone); ``metrics`` holds nDCG, recall and reciprocal rank.
"""
