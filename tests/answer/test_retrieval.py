from __future__ import annotations

import numpy as np

from qa.answer.query import fold_history
from qa.evaluate.labeled import DEFAULT_QUESTIONS, contains, load_questions
from qa.answer.retrieval import FusionSettings, Retriever

from ..conftest import ROBOTS, build_bot, write_corpus


def _first_hit_rank(bot, retriever, item):
    q = fold_history(item["question"], None)
    v = bot.embedder.encode_queries([q.text])[0]
    for n, h in enumerate(retriever.search(v, q.tokens, 5), 1):
        if contains(bot.index.chunks[h.chunk].text, item["answer"]):
            return n
    return None


def test_hybrid_finds_known_passages_that_dense_alone_misses(shipped_bot):
    dense = Retriever(shipped_bot.index, FusionSettings(passage=1.0, sentence=0.0, lexical=0.0))
    items = [i for i in load_questions(DEFAULT_QUESTIONS) if "answer" in i and "turns" not in i]
    rescued = lost = 0
    for item in items:
        d, h = _first_hit_rank(shipped_bot, dense, item), _first_hit_rank(shipped_bot, shipped_bot.retriever, item)
        rescued += d != 1 and h == 1
        lost += d == 1 and h != 1
    assert rescued >= 5, f"hybrid put only {rescued} passages first that dense alone did not"
    assert rescued > 3 * lost


def test_exact_rare_term_is_found_by_the_lexical_side(tmp_path, embedder):
    codes = {f"err{n}.txt": f"Fault code QX-{1000 + n * 7} on the pump controller means the {part} needs attention."
             for n, part in enumerate(["seal", "impeller", "bearing", "valve", "gasket", "motor", "fuse", "sensor"])}
    bot = build_bot(write_corpus(tmp_path / "c", codes), tmp_path / "ix", embedder)
    ans = bot.ask("What does fault code QX-1021 mean?")
    assert "QX-1021" in ans.citations[0].passage


def test_near_duplicate_passages_are_collapsed(tmp_path, embedder):
    # One document republishes another in full, as the shipped corpus's boilerplate does.
    repost = "Reposted from our partner site.\n\n" + ROBOTS + "\n\nComments are closed."
    corpus = write_corpus(tmp_path / "c", {"robots.md": ROBOTS, "repost.txt": repost,
                                           "other.txt": "Robot vacuums are popular in apartments."})
    bot = build_bot(corpus, tmp_path / "ix", embedder)
    ans = bot.ask("How many industrial robots did China install?", k=5)
    with_answer = [c for c in ans.citations if "276,000" in c.passage]
    assert len(with_answer) == 1
    assert len({c.highlight for c in ans.citations}) == len(ans.citations)
    # The copy is not lost: the citation says which other document holds it.
    other = {"robots.md": "repost.txt", "repost.txt": "robots.md"}[with_answer[0].source]
    assert with_answer[0].also_in == [other]


def test_top_scores_is_the_top_of_every_positive_score():
    from qa.store.faiss import top_scores

    rng = np.random.default_rng(7)
    for _ in range(500):
        n = int(rng.integers(1, 2000))
        scores = np.where(rng.random(n) < rng.random(), rng.exponential(size=n), 0).astype(np.float32)
        depth = int(rng.integers(1, 80))
        got = top_scores(scores, depth)
        positive = np.flatnonzero(scores > 0)
        want = positive[np.argsort(-scores[positive], kind="stable")][:depth]
        assert len(got) == len(set(got.tolist())) == len(want)
        assert sorted(scores[got].tolist()) == sorted(scores[want].tolist())
    # A damaged index's NaN or infinity must not hang the search.
    assert set(top_scores(np.array([1, np.nan, 2], np.float32), 1).tolist()) == {2}
    assert set(top_scores(np.array([np.inf, 1, 0], np.float32), 2).tolist()) == {0, 1}


def test_page_runs_cover_every_page_of_every_row_and_nothing_else():
    from qa.store.vectors import page_runs

    rng = np.random.default_rng(11)
    for length in (768, 4096, 8192, 10000):  # rows smaller than, equal to and larger than a page
        first = np.unique(rng.integers(0, 200, 40)) * length + 128  # after a 128-byte header
        runs = page_runs(first, length, 4096)
        covered = {p for start, size in runs for p in range(start // 4096, (start + size) // 4096)}
        needed = {p for f in first.tolist() for p in range(f // 4096, (f + length - 1) // 4096 + 1)}
        assert covered == needed
        assert all(start % 4096 == 0 and size % 4096 == 0 for start, size in runs)
        assert all(a[0] + a[1] < b[0] for a, b in zip(runs, runs[1:]))  # separate runs have a gap between them


def test_rows_of_a_memory_map_read_with_prefetch_equal_plain_indexing(tmp_path):
    from qa.store.vectors import open_vectors, rows, save_vectors

    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((5000, 384)).astype(np.float32)
    save_vectors(tmp_path / "v.f16.npy", vectors)
    mapped = open_vectors(tmp_path / "v.f16.npy")
    assert getattr(mapped, "_mmap", None) is not None
    stored = vectors.astype(np.float16).astype(np.float32)
    ids = np.array([4999, 0, 17, 18, 2500, 17, 3001])
    assert np.array_equal(rows(mapped, ids), stored[ids])
    inner = ids[ids < 4900]  # a slice of the map (as a segment of a large index is) starts mid-page
    assert np.array_equal(rows(mapped[100:], inner), stored[100:][inner])
    assert rows(mapped, np.array([], dtype=np.int64)).shape == (0, 384)


def test_the_lexical_vote_weighs_less_where_bm25_and_dense_disagree(shipped_bot):
    """``lexical_agreement``: the share of BM25's top ten also in the dense top ten scales BM25's vote, so a
    question whose words match the wrong passages leans on meaning; where they agree, nothing changes."""
    from qa.answer.retrieval import _agreement

    dense = np.array([0.9, 0.8, 0.7, 0.1, 0.0])
    assert _agreement(dense, np.array([5.0, 4.0, 3.0, 0.0, 0.0]), 3) == 1.0  # the same top three
    assert _agreement(dense, np.array([0.0, 0.0, 0.0, 4.0, 5.0]), 3) == 0.0  # BM25's only hits are dense's last
    assert _agreement(dense, np.zeros(5), 3) == 0.0  # no lexical match at all
    off = Retriever(shipped_bot.index, FusionSettings(lexical_agreement=0.0))
    on = Retriever(shipped_bot.index, FusionSettings(lexical_agreement=1.0))
    q = shipped_bot.embedder.encode_queries(["How many industrial robots did China install?"])[0]
    tokens = fold_history("How many industrial robots did China install?", None).tokens
    a, b = off.search(q, tokens, k=5), on.search(q, tokens, k=5)
    assert [h.chunk for h in a][:1] == [h.chunk for h in b][:1]  # agreeing lists: the same first passage
    assert all(y.lexical <= x.lexical + 1e-6 for x, y in zip(sorted(a, key=lambda h: h.chunk), sorted(b, key=lambda h: h.chunk))
               if x.chunk == y.chunk)
    assert FusionSettings().lexical_agreement == 0.3  # on by default (bench/fusion.py)
