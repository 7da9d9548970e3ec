"""Public retrieval benchmarks through the bot's own pipeline (``qa eval --beir`` / ``--squad``).

A BEIR document or a SQuAD paragraph becomes a ``Document``; it is chunked, embedded and
indexed like any corpus, and chunk hits map back to their document (its best chunk counts).
"""
from __future__ import annotations

import hashlib
import json
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from qa import store as index_io
from qa.embed.openvino_batches import available as openvino_available
from qa.errors import BadIndexError, CorpusError
from qa.evaluate.baselines import unique_sources
from qa.evaluate.metrics import (
    ndcg_at_k,
    ndcg_at_k_leaderboard,
    recall_at_k,
    reciprocal_rank,
)
from qa.store import Index, IndexSettings
from qa.types import Document

CACHE = Path(tempfile.gettempdir()) / "qa-eval-cache"


# ---------------------------------------------------------------- loading

@dataclass
class BeirSet:
    name: str
    documents: list[Document]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_beir(folder: str | Path, split: str = "test") -> BeirSet:
    folder = Path(folder)
    for need in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
        if not (folder / need).exists():
            raise CorpusError(f"{folder} is not a BEIR folder: {need} is missing.")
    docs = []
    with open(folder / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                docs.append(Document(source=str(r["_id"]), title=(r.get("title") or "").strip(), text=r.get("text") or ""))
    queries = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                queries[str(r["_id"])] = r["text"]
    qrels: dict[str, dict[str, int]] = {}
    with open(folder / "qrels" / f"{split}.tsv", encoding="utf-8") as f:
        for line in f:
            parts = line.strip().split("\t")
            if len(parts) < 3 or not parts[-1].lstrip("-").isdigit():
                continue  # header line
            qid, did, grade = parts[0], parts[-2], int(parts[-1])
            qrels.setdefault(qid, {})[did] = grade
    return BeirSet(folder.name, docs, queries, qrels)


@dataclass
class SquadSet:
    documents: list[Document]
    answerable: list[tuple[str, str]] = field(default_factory=list)  # (question, paragraph source)
    unanswerable: list[tuple[str, str]] = field(default_factory=list)


def load_squad(path: str | Path) -> SquadSet:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CorpusError(f"{path} is not a SQuAD v2 JSON file ({type(err).__name__}: {err}).") from err
    out = SquadSet([])
    for article in data:
        title = article.get("title", "").replace("_", " ")
        for i, para in enumerate(article["paragraphs"]):
            source = f"{article.get('title', 'article')}/{i}"
            out.documents.append(Document(source=source, title=title, text=para["context"]))
            for qa in para["qas"]:
                (out.unanswerable if qa.get("is_impossible") else out.answerable).append((qa["question"], source))
    return out


# ---------------------------------------------------------------- indexing, cached

def corpus_fingerprint(docs: list[Document]) -> dict[str, str]:
    return {d.source: hashlib.sha256(f"{d.title}\n{d.text}".encode()).hexdigest()[:16] for d in docs}


def open_or_build(docs: list[Document], settings: IndexSettings, encode: Callable, name: str,
                  cache: Path = CACHE) -> Index:
    """The index of ``docs`` from the cache when it matches, else built (with progress) and cached."""
    hashes = corpus_fingerprint(docs)
    # How it embeds is part of the key: an index embedded in float32 must not stand in for a bfloat16 one.
    embedder = getattr(encode, "__self__", None)
    route = [getattr(embedder, "bf16", False), openvino_available()]
    key = hashlib.sha256(json.dumps([settings.to_dict(), sorted(hashes.items()), route]).encode()).hexdigest()[:12]
    folder = cache / f"{name}-{key}"
    try:
        if index_io.staleness(index_io.read_manifest(folder), settings, hashes) is None:
            return index_io.load(folder)
    except BadIndexError:
        pass
    for older in sorted(cache.glob(f"{name}-*")):  # the same collection, indexed before the tokenizer changed
        try:
            manifest = index_io.read_manifest(older)
            if index_io.only_tokenizer_changed(manifest, settings) and dict(manifest.get("corpus_files", {})) == hashes:
                built = index_io.retokenized(index_io.load(older), settings)
                index_io.save(built, folder)
                return built
        except BadIndexError:
            continue
    print(f"Indexing {len(docs):,} documents of {name} (cached at {folder}) …", file=sys.stderr, flush=True)
    built = index_io.build(docs, settings, encode, hashes=hashes)
    index_io.save(built, folder)
    return built


# ---------------------------------------------------------------- systems and runs

class Ranker(Protocol):
    def rank(self, question: str, k: int) -> list[str]: ...


@dataclass
class BotRanker:
    """The bot's full ranking (fusion + evidence re-ranking), without duplicate collapse."""

    bot: object
    depth: int = 30  # passages retrieved to fill k distinct documents

    def rank(self, question: str, k: int) -> list[str]:
        return self.rank_and_abstain(question, k)[0]

    def rank_and_abstain(self, question: str, k: int) -> tuple[list[str], bool]:
        answer = self.bot.answer(question, k=max(k, self.depth), collapse=False)
        return unique_sources(c.source for c in answer.citations)[:k], answer.abstained


def beir_scores(ranker: Ranker, data: BeirSet, k: int = 10) -> dict[str, float]:
    """Averaged over queries that have at least one judged document, as the leaderboard does."""
    rows = {"nDCG@10": [], "nDCG@10 (leaderboard)": [], "recall@10": [], "MRR@10": []}
    for qid, qrels in data.qrels.items():
        if qid not in data.queries or not qrels:
            continue
        ranked = ranker.rank(data.queries[qid], k)
        relevant = {d for d, g in qrels.items() if g > 0}
        rows["nDCG@10"].append(ndcg_at_k(ranked, qrels, k))
        rows["nDCG@10 (leaderboard)"].append(ndcg_at_k_leaderboard(ranked, qrels, k))
        rows["recall@10"].append(recall_at_k(ranked, relevant, k))
        rows["MRR@10"].append(reciprocal_rank(ranked, relevant, k))
    out = {m: statistics.fmean(v) if v else 0.0 for m, v in rows.items()}
    out["queries"] = len(rows["MRR@10"])
    return out


def squad_scores(ranker: Ranker, data: SquadSet, limit: int | None = None) -> dict[str, float]:
    """Recall@1/@5 and MRR@10 of each answerable question's own paragraph; for the bot, abstention too."""
    answerable = data.answerable[:limit] if limit else data.answerable
    abstains = hasattr(ranker, "rank_and_abstain")
    r1 = r5 = false_abstentions = 0
    rr = []
    for question, source in answerable:
        if abstains:
            ranked, abstained = ranker.rank_and_abstain(question, 10)
            false_abstentions += abstained
        else:
            ranked = ranker.rank(question, 10)
        r1 += ranked[:1] == [source]
        r5 += source in ranked[:5]
        rr.append(reciprocal_rank(ranked, {source}, 10))
    n = len(answerable)
    out = {"recall@1": r1 / n, "recall@5": r5 / n, "MRR@10": sum(rr) / n, "questions": n}
    if abstains:
        unanswerable = data.unanswerable[:limit] if limit else data.unanswerable
        out["abstention (unanswerable)"] = sum(ranker.rank_and_abstain(q, 1)[1] for q, _ in unanswerable) / max(1, len(unanswerable))
        out["false abstention (answerable)"] = false_abstentions / n
    return out


def table(rows: dict[str, dict[str, float]], metrics: list[str]) -> str:
    """A Markdown table: one row per system, one column per metric."""
    lines = ["| system | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for name, scores in rows.items():
        cells = [f"{scores[m]:.3f}" if isinstance(scores.get(m), float) else str(scores.get(m, "—")) for m in metrics]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
