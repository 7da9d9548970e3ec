"""Would label-free pseudo-queries choose good fusion weights for a collection? (issue 9 probe)

    HF_HUB_OFFLINE=1 .venv/bin/python bench/probes/calibration_probe.py ../shared/benchmarks [--keep 0.5]

For MS MARCO-5k and SQuAD's paragraphs: 150 pseudo-queries, each a sentence of a random document with
only a share (--keep) of its content words left, in order; the document is the answer. Prints the
pseudo-queries' MRR@10 under several fusion weights (passage, sentence, lexical). Compare the weights
they prefer with those real queries prefer (bench/README.md, "Robustness"): if they disagree, such a
calibration would move the weights the wrong way.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]  # qa, and the maintained benchmarks' helpers

from qa.evaluate import benchmarks as b  # noqa: E402
from qa.embed.embedder import Embedder  # noqa: E402
from qa.store import Index, IndexSettings  # noqa: E402
from qa.store.lexical import stopwords, tokenize  # noqa: E402
from qa.answer.retrieval import FusionSettings, Retriever  # noqa: E402

WEIGHTS = [(0.5, 0.2, 0.3), (0.6, 0.2, 0.2), (0.7, 0.2, 0.1), (1.0, 0.0, 0.0), (0.4, 0.2, 0.4), (0.3, 0.2, 0.5)]


def pseudo_queries(ix: Index, n: int, keep: float, seed: int = 7) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    by_doc: dict[int, list[int]] = {}
    for sid, row in enumerate(ix.sentences):
        by_doc.setdefault(int(row[0]), []).append(sid)
    docs = list(range(len(ix.docs)))
    rng.shuffle(docs)
    queries, targets = [], []
    for d in docs[:n]:
        text = ix.docs[d].text
        sids = [s for s in by_doc.get(d, []) if len(text[ix.sentences[s][1]:ix.sentences[s][2]].split()) >= 8]
        if not sids:
            continue
        s = rng.choice(sids)
        content = [w for w in text[ix.sentences[s][1]:ix.sentences[s][2]].split() if w.lower().strip(".,;:!?\"'()") not in stopwords()]
        picked = sorted(rng.sample(range(len(content)), min(len(content), max(3, int(len(content) * keep)))))
        queries.append(" ".join(content[i] for i in picked))
        targets.append(ix.docs[d].source)
    return queries, targets


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benchmarks", type=Path)
    p.add_argument("--keep", type=float, default=0.5)
    p.add_argument("--queries", type=int, default=150)
    a = p.parse_args()
    e = Embedder()
    marco = b.load_beir(a.benchmarks / "msmarco-5k")
    squad = b.load_squad(a.benchmarks / "squad-v2-dev" / "dev-v2.0.json")
    print("| collection | " + " | ".join("/".join(f"{x:g}" for x in w) for w in WEIGHTS) + " |")
    print("|---" * (len(WEIGHTS) + 1) + "|")
    for name, docs, cache in (("MS MARCO-5k", marco.documents, "msmarco"), ("SQuAD paragraphs", squad.documents, "squad")):
        ix = b.open_or_build(docs, IndexSettings(model=e.name), e.encode, cache)
        queries, targets = pseudo_queries(ix, a.queries, a.keep)
        vectors = e.encode(queries)
        cells = []
        for w in WEIGHTS:
            retriever = Retriever(ix, FusionSettings(*w))
            rr = []
            for q, v, t in zip(queries, vectors, targets):
                ranked = list(dict.fromkeys(ix.chunks[h.chunk].source for h in retriever.search(v, tokenize(q), 30, collapse=False)))[:10]
                rr.append(1 / (ranked.index(t) + 1) if t in ranked else 0.0)
            cells.append(f"{np.mean(rr):.3f}")
        print(f"| {name} ({len(queries)} pseudo-queries, MRR@10) | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
