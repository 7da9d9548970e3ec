"""The terminal face: ``qa index``, ``qa ask``, ``qa eval``."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import textwrap

from qa.answer.calibration import Calibration
from qa.errors import QAError, QuestionError

EXIT_ERROR = 1
EXIT_BAD_INPUT = 2


def _common(p: argparse.ArgumentParser, rerank: bool = True) -> None:
    p.add_argument("--corpus", help="folder of documents: PDF, HTML, DOCX, Markdown, text (default: corpus/, or QA_CORPUS)")
    p.add_argument("--index", help="index folder (default: index/ for the shipped corpus, else CORPUS/.qa-index)")
    p.add_argument("--model", help="sentence-transformers model name or path (default: bundled all-MiniLM-L6-v2, or QA_MODEL)")
    p.add_argument("--milvus-uri", help="keep the index in Milvus: a .db path (Milvus Lite) or a server URL; token in "
                                        "QA_MILVUS_TOKEN (default: none, or QA_MILVUS_URI)")
    if rerank:  # building an index never needs one
        p.add_argument("--reranker", help="optional cross-encoder name or path that re-orders the top passages (default: none, or QA_RERANKER)")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="qa", description="Ask a folder of documents a question; get cited passages.")
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build (or refresh) the index of a corpus folder")
    p.add_argument("corpus_dir", nargs="?", metavar="CORPUS", help="corpus folder (default: corpus/)")
    _common(p, rerank=False)
    p.add_argument("--rebuild", action="store_true", help="rebuild even when the index is up to date")
    p.add_argument("--passage-vectors", choices=("encoded", "summed"),
                   help="encoded (default): passages and sentences embedded apart; summed: sentences only, "
                        "passages summed from them, about twice as fast (or QA_PASSAGE_VECTORS)")
    p.add_argument("--compact", action="store_true", help="merge a large index's changes (kept beside it since it was "
                                                          "built) into it: one index again")
    p.add_argument("--ray", metavar="ADDRESS", help="read, chunk and embed on a Ray cluster: its address, or `auto` for the "
                                                    "one started on this machine (or QA_RAY_ADDRESS; needs qa[ray])")

    p = sub.add_parser("add", help="add files to the corpus and index them now (copied into the corpus folder)")
    p.add_argument("files", nargs="+", metavar="FILE", help="PDF, HTML, DOCX, Markdown or text files")
    _common(p, rerank=False)

    p = sub.add_parser("remove", help="drop documents from the index (their files move to CORPUS/.qa-removed/)")
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="as `qa sources` lists them")
    _common(p, rerank=False)

    p = sub.add_parser("sources", help="list the indexed documents with their format and title")
    _common(p, rerank=False)

    p = sub.add_parser("ask", help="ask one question")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=5, help="number of passages to cite (1-20, default 5)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--llm", help="have a language model write the answer, every sentence checked: a .gguf path or "
                                 "an OpenAI-compatible server's URL (default: none, or QA_LLM)")
    _common(p)

    p = sub.add_parser("eval", help="measure the bot on a labeled question set or a public benchmark")
    p.add_argument("file", nargs="?", help="questions JSONL (default: tests/data/questions.jsonl)")
    p.add_argument("--beir", metavar="DIR", help="a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv): nDCG@10, recall@10, MRR@10")
    p.add_argument("--squad", metavar="FILE", help="a SQuAD v2 JSON file: paragraph recall@1/@5, MRR@10, abstention")
    p.add_argument("--limit", type=int, help="only the first N questions (a quick look)")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--failures", action="store_true", help="list every question the bot got wrong")
    _common(p)
    return top


def _bot(args, corpus=None, rebuild=False, passage_vectors=None, require_saved=False):
    from qa.bot import Bot

    return Bot.load(corpus=corpus or args.corpus, index=args.index, model=args.model, rebuild=rebuild, passage_vectors=passage_vectors,
                    require_saved=require_saved,
                    reranker=args.reranker if "reranker" in args else "none",  # None: QA_RERANKER decides
                    llm=args.llm if "llm" in args else "",  # likewise QA_LLM, for `qa ask` only
                    milvus_uri=args.milvus_uri if "milvus_uri" in args else None)


def cmd_index(args) -> int:
    import time

    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    rebuild = args.rebuild
    from qa.store.ray_build import address_from  # ray itself is imported only to build on it

    address = address_from(args.ray)
    if address and _build_on_ray(args, address):
        rebuild = False  # just built, on the cluster: loading it calibrates it
    bot = _bot(args, corpus=args.corpus_dir, rebuild=rebuild, passage_vectors=args.passage_vectors, require_saved=True)
    layers = bot.index.layers
    from qa.store.layers import outgrown

    if layers is not None and bot.index_path is not None and (args.compact or outgrown(bot.index)):
        from qa.bot import Bot
        from qa.store import compact

        # The update itself is saved already (a small delta): a server reloading now has it. Merging it in is
        # the slow part, so it comes after, and stopping it leaves the saved index as it is.
        why = "" if args.compact else "; they have grown past a quarter of it, and the saved index answers meanwhile"
        print(f"Merging the changes ({layers.delta_passages:,} passages added, {layers.dead_passages:,} removed) into "
              f"the index at {bot.index_path}{why} …", file=sys.stderr)
        bot = Bot(compact(bot.index, bot.index_path), bot.embedder, bot.corpus, bot.index_path)
    c = bot.index.manifest.get("counts", {})
    kinds: dict[str, int] = {}
    for d in bot.index.live_docs:
        kinds[d.kind] = kinds.get(d.kind, 0) + 1
    print(f"Index ready at {bot.index_path}: {c.get('documents')} documents ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}), "
          f"{c.get('chunks')} passages, {c.get('sentences')} sentences, model {bot.index.settings.model}.")
    chosen = Calibration.from_dict(bot.index.manifest.get("calibration"))
    if chosen is not None:
        print(chosen.summary())
    skipped = bot.index.manifest.get("skipped", [])
    if skipped and bot.index.manifest.get("built_at", "") < started:  # read earlier: not in this run's log
        for line in skipped:
            print(f"qa: {line}", file=sys.stderr)
    return 0


def _build_on_ray(args, address: str) -> bool:
    """Build on the cluster and save the index where ``qa index`` would, unless it is up to date (then False:
    the local path has nothing to do but load it). Loading it then calibrates it."""
    import os

    from qa.bot import default_paths
    from qa.embed.embedder import model_name
    from qa.errors import BadIndexError
    from qa.store import MANIFEST, IndexSettings, file_hashes, read_manifest, save, staleness
    from qa.store.milvus import fingerprint_of
    from qa.store.milvus_client import MilvusSettings
    from qa.store.ray_build import build_on_ray, clear_cache

    milvus = MilvusSettings.from_env(getattr(args, "milvus_uri", None))
    corpus, index_path = default_paths(args.corpus_dir or args.corpus, args.index)
    chosen = args.passage_vectors or os.environ.get("QA_PASSAGE_VECTORS")
    target = None
    if milvus is not None:  # straight into Milvus: its collections are replaced once the build is whole
        from qa.store.milvus import MilvusStore

        target = MilvusStore(milvus, args.rebuild)
        manifest = target.manifest()
    else:
        manifest = None
        try:
            manifest = read_manifest(index_path) if (index_path / MANIFEST).exists() else None
        except BadIndexError:
            pass  # damaged: built again
    if not chosen and manifest:
        chosen = manifest.get("settings", {}).get("passage_vectors")  # an index keeps how it was built
    settings = IndexSettings(model=model_name(args.model), **({"passage_vectors": chosen} if chosen else {}))
    cache = index_path.parent / f".{index_path.name}.ray-segments"
    hashes = file_hashes(corpus)
    if args.rebuild:
        clear_cache(cache)  # a file refused before (too large, say) is read again
    elif target is not None and manifest is not None and manifest.get("fingerprint") == fingerprint_of(settings, hashes):
        return False
    elif target is None and manifest is not None and staleness(manifest, settings, hashes) is None:
        return False  # up to date: nothing for the cluster to do
    index = build_on_ray(corpus, settings, address, cache, say=lambda m: print(m, file=sys.stderr))
    if target is None:
        save(index, index_path)
    else:
        from qa.answer import calibration
        from qa.embed.embedder import Embedder

        print(f"Calibrating, then writing the index into Milvus at {milvus.uri} …", file=sys.stderr)
        calibration.keep_or_redo(index, Embedder(settings.model).encode)  # Bot.load opens a Milvus index as it is
        target.put(index, hashes)
    clear_cache(cache)
    return True


def cmd_add(args) -> int:
    from pathlib import Path

    missing = [f for f in args.files if not Path(f).is_file()]
    if missing:  # before the model loads
        raise QAError(f"No such file: {', '.join(missing)}. Check the path.")
    bot = _bot(args)
    before = set(bot.index.documents)
    warnings = bot.add(args.files)
    for w in warnings:
        print(f"qa: {w}", file=sys.stderr)
    added = sorted(set(bot.index.documents) - before)
    print(f"Added {len(added)} document{'s' if len(added) != 1 else ''} to {bot.corpus}"
          + (f": {', '.join(added)}" if added else "") + f"; the index at {bot.index_path} now holds {bot.index.document_count}.")
    _finish_merge(bot)
    return EXIT_ERROR if warnings and not added else 0


def _finish_merge(bot) -> None:
    """A change that made a large index's changes outgrow it started a merge (``Bot.merge_in_background``):
    this process waits for it rather than end in its middle, which would leave it to be done again."""
    if bot.merging:
        print(f"Merging the index's changes into the index at {bot.index_path} (they have grown past a quarter of it; "
              "stopping now leaves the saved index as it is) …", file=sys.stderr)
        bot.wait_merged()


def cmd_remove(args) -> int:
    bot = _bot(args)
    for source in args.sources:
        bot.remove(source)
        print(f"Removed {source} (its file is in {bot.corpus / '.qa-removed'}).")
    _finish_merge(bot)
    return 0


def cmd_sources(args) -> int:
    bot = _bot(args)
    for d in bot.index.live_docs:
        pages = f", {len(d.pages)} pages" if d.pages else ""
        print(f"{d.source}\t{d.kind}{pages}\t{d.title}")
    return 0


def cmd_ask(args) -> int:
    from qa.bot import MAX_K, check_question

    check_question(args.question)  # fail fast, before loading a model
    if not 1 <= args.k <= MAX_K:
        raise QuestionError(f"-k must be from 1 to {MAX_K}, got {args.k}.")
    answer = None
    for part in _bot(args).ask_stream(args.question, k=args.k):
        if isinstance(part, str):  # the model's words as it writes them; the checked answer follows on stdout
            print(part, end="", file=sys.stderr, flush=True)
        else:
            answer = part
    if answer.generated or answer.notice:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    if answer.generated:
        for c in answer.checks:
            print(c.text if c.supported else f"{c.text}  ⚠ not supported: {c.reason}")
    else:
        print(answer.text)
    print(f"({answer.outcome} · confidence {answer.confidence:.2f})")  # as the chat and the API say it
    if answer.notice:
        print(f"({answer.notice})")
    print()
    for c in answer.citations:
        where = "".join(f", {part}" for part in (f"p. {c.page}" if c.page else "", f"§ {c.section}" if c.section else "") if part)
        also = f"; also in {', '.join(c.also_in)}" if c.also_in else ""
        print(f"[{c.number}] {c.title} — {c.source}{where}, characters {c.start}–{c.end} (score {c.score:.3f}){also}")
        print(textwrap.indent(textwrap.fill(c.highlight, 100), "    » "))
    return 0


def cmd_eval(args) -> int:
    from qa.evaluate.labeled import DEFAULT_QUESTIONS, evaluate_labeled, load_questions

    if args.beir or args.squad:
        return eval_public(args)
    items = load_questions(args.file or DEFAULT_QUESTIONS)
    report = evaluate_labeled(_bot(args), items, k=args.k)
    print(report.table())
    if args.failures and report.failures:
        print("\nMisses:")
        print("\n".join(report.failures))
    return 0


def eval_public(args) -> int:
    """Index the benchmark's documents through the bot's own pipeline (cached), then score it."""
    from qa.answer.rerank import Reranker, reranker_name
    from qa.bot import Bot
    from qa.embed.embedder import Embedder
    from qa.evaluate import benchmarks as b
    from qa.store import IndexSettings

    if args.beir:
        data = b.load_beir(args.beir)
        docs, name = data.documents, f"beir-{data.name}"
    else:
        data = b.load_squad(args.squad)
        docs, name = data.documents, "squad"
    cross = reranker_name(args.reranker)
    reranker = Reranker(cross) if cross else None  # first: a wrong name fails before any indexing
    embedder = Embedder(args.model)
    index = b.open_or_build(docs, IndexSettings(model=embedder.name), embedder.encode, name)
    bot = Bot(index, embedder, reranker=reranker)
    bot.prepare_words(progress=True)  # as a server does at start: every query, the first too, sees the collection's words
    ranker = b.BotRanker(bot)
    if args.beir:
        scores = b.beir_scores(ranker, data)
        metrics = ["nDCG@10", "nDCG@10 (leaderboard)", "recall@10", "MRR@10", "queries"]
    else:
        scores = b.squad_scores(ranker, data, limit=args.limit)
        metrics = ["recall@1", "recall@5", "MRR@10", "abstention (unanswerable)", "false abstention (answerable)", "questions"]
    print(b.table({"qa": scores}, metrics))
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    args = parser().parse_args(argv)
    try:
        commands = {"index": cmd_index, "add": cmd_add, "remove": cmd_remove, "sources": cmd_sources, "ask": cmd_ask, "eval": cmd_eval}
        return commands[args.command](args)
    except QuestionError as err:
        print(f"qa: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except QAError as err:
        print(f"qa: {err}", file=sys.stderr)
        return EXIT_ERROR
    except (OSError, ValueError) as err:
        print(f"qa: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("qa: interrupted; the previous index, if any, is intact.", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - one line for the user, the traceback for the log
        logging.getLogger("qa").debug("qa failed", exc_info=True)
        print(f"qa: unexpected error ({type(err).__name__}: {err}); rerun with QA_DEBUG=1 for the traceback.", file=sys.stderr)
        if os.environ.get("QA_DEBUG"):
            raise
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
