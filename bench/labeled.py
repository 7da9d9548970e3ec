"""The labeled question sets and the collections they ask about, opened as the benchmarks need them.

``questions``, ``heldout`` and ``heldout2`` ask about the shipped corpus (its saved index); ``mixed`` about
the mixed-format documents ``bench/make_mixed.py`` writes; ``negations`` (questions that say "not",
"never", "n't"…, written blind by a helper) about both together; ``everyday`` (questions in people's own
words, with a tuning and a reporting half), ``everyday2``, ``everyday3`` and ``everyday4`` (eight more documents each, reporting
only, each written blind in a later session) about the documents ``bench/make_everyday.py`` writes. Each new collection is indexed and
calibrated as ``Bot.load`` would.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.answer import calibration  # noqa: E402
from qa import store as index_io  # noqa: E402
from qa.bot import Bot  # noqa: E402
from qa.embed.embedder import Embedder  # noqa: E402
from qa.store import IndexSettings  # noqa: E402

DATA = ROOT / "tests" / "data"


def write_mixed(folder: Path | None = None) -> Path:
    """The mixed-format documents, written by their real writers into ``folder`` (default: a new temporary one)."""
    folder = folder or Path(tempfile.mkdtemp(prefix="qa-mixed-"))
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_mixed.py"), str(folder)], check=True, capture_output=True)
    return folder


def write_everyday(folder: Path | None = None, name: str = "everyday") -> Path:
    """The everyday documents (a report PDF, policy memos, web pages, FAQs…), written by their real writers;
    ``name="everyday2"``, ``"everyday3"`` or ``"everyday4"``: the second, third or fourth set, eight more documents
    each, for reporting only."""
    folder = folder or Path(tempfile.mkdtemp(prefix="qa-everyday-"))
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_everyday.py"), str(folder), "--set", name],
                   check=True, capture_output=True)
    return folder


def labeled_sets(embedder: Embedder) -> dict[str, tuple[Bot, Path]]:
    """Set name → (a bot over its collection, its questions file)."""
    shipped = Bot(index_io.load(ROOT / "index"), embedder)
    work = Path(tempfile.mkdtemp(prefix="qa-labeled-"))
    mixed_dir = write_mixed(work / "mixed")
    both = work / "shipped-and-mixed"
    shutil.copytree(mixed_dir, both, ignore=shutil.ignore_patterns(".*"))
    for f in (ROOT / "corpus").glob("*.txt"):
        shutil.copy2(f, both / f.name)

    def bot(folder: Path) -> Bot:
        ix = index_io.build_from_folder(folder, IndexSettings(model=embedder.name), embedder.encode)
        calibration.keep_or_redo(ix, embedder.encode)
        return Bot(ix, embedder)

    return {"questions": (shipped, DATA / "questions.jsonl"), "heldout": (shipped, DATA / "heldout.jsonl"),
            "heldout2": (shipped, DATA / "heldout2.jsonl"), "mixed": (bot(mixed_dir), DATA / "mixed.jsonl"),
            "negations": (bot(both), DATA / "negations.jsonl"),
            "everyday": (bot(write_everyday(work / "everyday")), DATA / "everyday.jsonl"),
            "everyday2": (bot(write_everyday(work / "everyday2", "everyday2")), DATA / "everyday2.jsonl"),
            "everyday3": (bot(write_everyday(work / "everyday3", "everyday3")), DATA / "everyday3.jsonl"),
            "everyday4": (bot(write_everyday(work / "everyday4", "everyday4")), DATA / "everyday4.jsonl")}
