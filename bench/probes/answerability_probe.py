"""Would a cross-encoder trained here tell answerable questions from unanswerable ones better than support?

    HF_HUB_OFFLINE=1 .venv/bin/python bench/probes/answerability_probe.py ../shared/benchmarks [--epochs 3] [--layers 6]

No trained answerability model ships on PyPI, so this trains one from what is here: the bundled
all-MiniLM-L6-v2 read as a cross-encoder ("question [SEP] sentence", mean-pooled, one linear head),
fine-tuned on half of SQuAD v2 dev (the articles at even places in title order; seed 0):

- positives: an answerable question and the sentence of its paragraph that holds the answer;
- negatives: an unanswerable question and the sentence of its paragraph closest to it (what the bot
  would highlight), and an answerable question and its closest sentence that does not hold the answer.

Then ``bot.ask`` runs every first-turn question of the labeled sets (``bench/labeled.py``) and of both
SQuAD halves, recording what ``Composer.should_abstain`` sees (``abstention_probe.Recorder``), and the
model scores the top highlight. It prints each signal's AUC (answerable above unanswerable) and the rule
with the model's probability added to support (``support + alpha × (p − 0.5)``), its floor chosen on the
training half so that half keeps its true abstentions: false / true abstentions on every set.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]  # qa, and the maintained benchmarks' helpers

from qa.evaluate import benchmarks as b  # noqa: E402
from qa.answer import calibration  # noqa: E402
from qa.answer.query import AnswerSettings  # noqa: E402
from qa.bot import Bot  # noqa: E402
from qa.ingest.chunking import sentence_spans  # noqa: E402
from qa.embed.embedder import DEFAULT_MODEL, Embedder, model_location  # noqa: E402
from qa.store import IndexSettings  # noqa: E402
from abstention_probe import Recorder, auc, first_turns  # noqa: E402


def halves(articles: list[dict]) -> dict[str, int]:
    """Article title → 0 (trained on) or 1 (held out)."""
    return {t: i % 2 for i, t in enumerate(sorted(a["title"] for a in articles))}


def training_pairs(articles: list[dict], half: dict[str, int], embedder: Embedder) -> list[tuple[str, str, int]]:
    pairs = []
    for article in (a for a in articles if half[a["title"]] == 0):
        for para in article["paragraphs"]:
            spans = sentence_spans(para["context"])
            sentences = [para["context"][s:e] for s, e in spans]
            if not para["qas"] or not sentences:
                continue
            cos = embedder.encode([q["question"] for q in para["qas"]]) @ embedder.encode(sentences).T
            for q, row in zip(para["qas"], cos):
                order = list(np.argsort(-row))
                if q.get("is_impossible"):
                    pairs.append((q["question"], sentences[order[0]], 0))
                    continue
                holds = [j for j, (s, e) in enumerate(spans) if any(s <= a["answer_start"] < e for a in q["answers"])]
                if holds:
                    pairs.append((q["question"], sentences[holds[0]], 1))
                    wrong = [j for j in order if j not in holds]
                    if wrong:
                        pairs.append((q["question"], sentences[wrong[0]], 0))
    return pairs


class CrossEncoder:
    def __init__(self, layers: int) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = model_location(DEFAULT_MODEL)
        self.torch, self.tokenizer, self.bert = torch, AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path)
        self.head = torch.nn.Linear(self.bert.config.hidden_size, 1)
        for p in self.bert.parameters():
            p.requires_grad = False
        for layer in self.bert.encoder.layer[-layers:]:
            for p in layer.parameters():
                p.requires_grad = True

    def logits(self, questions: list[str], sentences: list[str]):
        enc = self.tokenizer(questions, sentences, truncation="only_second", max_length=128, padding=True, return_tensors="pt")
        hidden = self.bert(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        return self.head((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)).squeeze(-1)

    def train(self, pairs: list[tuple[str, str, int]], epochs: int) -> None:
        torch = self.torch
        trained = [p for p in self.bert.parameters() if p.requires_grad]
        opt = torch.optim.AdamW([{"params": trained, "lr": 3e-5}, {"params": self.head.parameters(), "lr": 1e-3}], weight_decay=0.01)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        rng = random.Random(0)
        for epoch in range(epochs):
            rng.shuffle(pairs)
            total = 0.0
            for i in range(0, len(pairs), 32):
                batch = pairs[i:i + 32]
                loss = loss_fn(self.logits([q for q, _, _ in batch], [s for _, s, _ in batch]),
                               torch.tensor([float(y) for _, _, y in batch]))
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(batch)
            print(f"epoch {epoch + 1}: loss {total / len(pairs):.3f}", flush=True)

    def probabilities(self, questions: list[str], sentences: list[str]) -> list[float]:
        out = []
        with self.torch.inference_mode():
            for i in range(0, len(questions), 64):
                out += self.torch.sigmoid(self.logits(questions[i:i + 64], sentences[i:i + 64])).tolist()
        return out


def refused(r: dict, floor: float, alpha: float) -> bool:
    """``should_abstain`` on recorded evidence, with the model's probability added to support."""
    if r["defines"]:
        return False
    settings = AnswerSettings()
    low = r["cosine"] < settings.min_sentence or r["support"][0] + alpha * (r["p"] - 0.5) < (
        settings.min_support_followup if r["followup"] else floor)
    return low or r["years"] or r["veto"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benchmarks", type=Path, help="folder holding squad-v2-dev/")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--layers", type=int, default=6, help="top MiniLM layers fine-tuned (the rest stay frozen)")
    a = p.parse_args()
    import torch

    torch.manual_seed(0)
    path = a.benchmarks / "squad-v2-dev" / "dev-v2.0.json"
    articles = json.loads(path.read_text(encoding="utf-8"))["data"]
    half = halves(articles)
    embedder = Embedder()
    pairs = training_pairs(articles, half, embedder)
    print(f"{len(pairs):,} training pairs ({sum(y for *_, y in pairs):,} positive) from {sum(1 - h for h in half.values())} articles", flush=True)
    model = CrossEncoder(a.layers)
    model.train(pairs, a.epochs)

    rec = Recorder()
    squad = b.load_squad(path)
    squad_ix = b.open_or_build(squad.documents, IndexSettings(model=embedder.name), embedder.encode, "squad")
    calibration.keep_or_redo(squad_ix, embedder.encode)
    sets = first_turns(embedder)
    labeled = [(q, True, s) for q, s in squad.answerable] + [(q, False, s) for q, s in squad.unanswerable]
    for h, name in ((0, "SQuAD, trained half"), (1, "SQuAD, held-out half")):
        sets[name] = (Bot(squad_ix, embedder), [(q, ok) for q, ok, s in labeled if half[s.rsplit("/", 1)[0]] == h])
    recorded = {}
    for name, (bot, items) in sets.items():
        rows = rec.rows(bot, items)
        for r, prob in zip(rows, model.probabilities([r["text"] for r in rows], [r["highlight"] or "." for r in rows])):
            r["p"] = prob
        recorded[name] = rows

    def count(rows: list[dict], floor: float, alpha: float) -> tuple[int, int, int, int]:
        ans, una = [r for r in rows if r["answerable"]], [r for r in rows if not r["answerable"]]
        return sum(refused(r, floor, alpha) for r in ans), len(ans), sum(refused(r, floor, alpha) for r in una), len(una)

    print("\n| set | AUC of support | AUC of the model |\n|---|---|---|")
    for name, rows in recorded.items():
        ans, una = [r for r in rows if r["answerable"]], [r for r in rows if not r["answerable"]]
        print(f"| {name} | {auc([r['support'][0] for r in ans], [r['support'][0] for r in una]):.3f} | "
              f"{auc([r['p'] for r in ans], [r['p'] for r in una]):.3f} |")
    floor0 = AnswerSettings().min_support
    keep = count(recorded["SQuAD, trained half"], floor0, 0.0)[2]
    print("\n| rule (false / true abstentions) | " + " | ".join(recorded) + " |\n|---|" + "---|" * len(recorded))
    for alpha in (0.0, 0.05, 0.1, 0.2):
        floor = next((f for f in np.arange(0.25, 0.6, 0.0025) if count(recorded["SQuAD, trained half"], f, alpha)[2] >= keep), floor0)
        floor = floor0 if alpha == 0 else floor
        cells = [f"{fa} / {na}, {ta} / {nu}" for fa, na, ta, nu in (count(rows, floor, alpha) for rows in recorded.values())]
        print(f"| alpha {alpha}, floor {floor:.4f} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
