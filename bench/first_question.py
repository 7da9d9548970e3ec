"""How long the first question of a fresh process takes when it holds a word no passage does, on the shipped
corpus and on MS MARCO-5k: the collection's words are embedded then (``qa/answer/related.py``).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/first_question.py ../shared/benchmarks

Each collection is opened in a process of its own (its index built and cached first if need be), asked a
warm-up question whose words the collection has, then three questions with words it lacks, each timed.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ASK = """
import sys, time
sys.path.insert(0, {root!r})
from qa.bot import Bot
from qa.embed.embedder import Embedder
from qa.evaluate import benchmarks as b
from qa.store import IndexSettings
e = Embedder()
if {beir!r}:
    data = b.load_beir({beir!r})
    bot = Bot(b.open_or_build(data.documents, IndexSettings(model=e.name), e.encode, "msmarco-5k"), e)
else:
    bot = Bot.load(on_status=lambda m: None)
bot.ask({warm!r})
for q in {questions!r}:
    t = time.perf_counter()
    bot.ask(q)
    print(f"| {{len(bot.index.chunks):,}} | {{q}} | {{time.perf_counter() - t:.2f}} |", flush=True)
"""
QUESTIONS = ["Will the guarantee cover a cracked zorbulated screen?", "How long does a passport renewal take?",
             "Are toddlers more at risk from flu?"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("benchmarks", type=Path, help="the benchmarks folder holding msmarco-5k/")
    args = ap.parse_args()
    print("| passages | question | seconds |\n|---|---|---|")
    for beir, warm in (("", "What is agentic AI?"), (str(args.benchmarks.resolve() / "msmarco-5k"), "what is a passport")):
        code = ASK.format(root=str(ROOT), beir=beir, warm=warm, questions=QUESTIONS)
        subprocess.run([sys.executable, "-c", code], check=True, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
