"""Collections nobody tuned on: accents and other alphabets, acronyms spelt out, per-collection calibration."""
from __future__ import annotations

import json

import numpy as np

from qa.answer import calibration
from qa import store as index_io
from qa.answer.evidence import spells_out
from qa.answer.kinds import negated
from qa.answer.related import terms_of
from qa.bot import Bot
from qa.store import IndexSettings
from qa.store.lexical import tokenize

from ..conftest import build_bot, write_corpus

LAB = """# Halden Soil Laboratory: service guide

Questions about anything in this guide should go to our operations manager, Deepa Rao, who looks after human resources.

Each sample must arrive in a labelled bag containing at least 500 grams of field-moist soil.
"""


def test_accented_names_match_their_plain_spelling_and_other_alphabets_are_words():
    assert tokenize("Schrödinger in Kraków") == tokenize("Schrodinger in Krakow")
    assert tokenize("Skłodowska-Curie, Beauséjour, Ærø") == tokenize("Sklodowska-Curie, Beausejour, Aero")
    assert tokenize("Москва — столица России") == ["москва", "столица", "россии"]
    assert tokenize("北京是中国的首都")[:2] == ["北", "京"]  # written without spaces: one token per character
    assert tokenize("The U.S. spent 1,413 dollars") == ["us", "spent", "1,413", "dollar"]


def test_an_acronyms_plural_is_the_acronym():
    """The stemmer strips an "s" only after a vowel not just before it: "DVDs" and "GPUs" stayed apart from "DVD"
    and "GPU", so a question naming one was searched as if no document had it."""
    assert tokenize("DVDs, GPUs, LLMs, CDs") == tokenize("DVD, GPU, LLM, CD") == ["dvd", "gpu", "llm", "cd"]
    assert tokenize("dvds and cds") == tokenize("DVD and CD")  # as people type them
    assert tokenize("large language models") == tokenize("LLMs")
    assert tokenize("PASS the CLASS test, USS Enterprise, bus") == ["pass", "class", "test", "uss", "enterpris", "bus"]


def test_a_contractions_tail_is_not_a_word():
    """"I'm", "won't", "they'll" gave the tokens "m", "won", "t", "ll": BM25 searched for them, and the share of
    the question's words a sentence holds counted them as missing."""
    assert tokenize("I'm sure they'll say we'd buy the chip") == tokenize("I sure they say we buy the chip") == ["sure", "say", "buy", "chip"]
    assert tokenize("Why won't they pay? I can't, you shouldn't") == ["pay"]
    assert tokenize("Don’t forget O'Brien's o'clock train") == ["forget", "o", "brien", "s", "o", "clock", "train"]
    assert terms_of("Why isn't my son's card working? I didn't lose it") == {"son": "son", "card": "card", "working": "work",
                                                                               "lose": "lose"}
    # typed without the apostrophe, as people chat: not a word the documents lack ("No document uses the word “doesnt”")
    assert terms_of("my card doesnt work and i dont know why, im stuck") == {"card": "card", "work": "work", "stuck": "stuck"}
    assert negated("why doesnt my card work") and not negated("why does my card work")


def test_a_short_form_typed_in_a_chat_box_is_the_word():
    """"I've worked here 6 yrs" is about years: BM25 reads it so, and it is not a word the documents lack. "HR" and
    "min" (minimum) stay as they are."""
    assert tokenize("6 yrs, 3 hrs a day, 30 mins, 2 wks") == tokenize("6 years, 3 hours a day, 30 minutes, 2 weeks")
    assert tokenize("more info from the dept") == tokenize("more information from the department")
    assert tokenize("the HR portal, min age") == ["hr", "portal", "min", "age"]
    assert terms_of("I've worked here 6 yrs, do I get more leave?")["yrs"] == tokenize("years")[0]


def test_a_question_naming_the_singular_of_a_plural_acronym_is_answered_from_it(tmp_path, embedder):
    corpus = write_corpus(tmp_path / "c", {"library.md": "# Borrowing\n\nBooks are lent for three weeks and DVDs for one "
                                                         "week. You can renew an item up to three times online.\n\n"
                                                         "# Printing\n\nColour printing costs 50 cents per page.\n"})
    bot = build_bot(corpus, tmp_path / "ix", embedder)
    answer = bot.ask("Can I keep a DVD for two weeks?")
    assert "DVD" not in answer.reason  # it was "No document mentions DVD."
    assert "DVDs for one week" in answer.citations[0].highlight


def test_a_question_without_accents_finds_and_answers_from_an_accented_document(tmp_path, embedder):
    corpus = write_corpus(tmp_path / "c", {"physics.md": "# Wave mechanics\n\nErwin Schrödinger published his wave equation "
                                                         "in 1926, while working at the University of Zürich.\n"})
    bot = build_bot(corpus, tmp_path / "ix", embedder)
    answer = bot.ask("When did Schrodinger publish his wave equation?")
    assert not answer.abstained and "1926" in answer.citations[0].highlight


def test_acronyms_are_spelt_out_only_by_the_words_they_stand_for():
    assert spells_out("HR", "who looks after human resources.")
    assert spells_out("NY", "an article in the New York Times")
    assert spells_out("WWII", "after World War II ended") and not spells_out("WWI", "after World War II ended")
    assert spells_out("TSMC", "Taiwan Semiconductor Manufacturing Company")
    assert not spells_out("HR", "for her reasons")  # function words stand for nothing
    assert not spells_out("India", "Indian industry")  # not an acronym


def test_an_acronym_the_found_passage_spells_out_does_not_veto_the_answer(tmp_path, embedder):
    bot = build_bot(write_corpus(tmp_path / "c", {"lab.md": LAB}), tmp_path / "ix", embedder)
    assert bot.index.lexical.doc_freq(["hr"])["hr"] == 0  # the corpus never writes "HR"
    answer = bot.ask("Who handles HR questions at the laboratory?")
    assert not answer.abstained and "Deepa Rao" in answer.citations[0].highlight
    # A name the corpus has no trace of still refuses.
    ibm = bot.ask("Who handles IBM questions at the laboratory?")
    assert ibm.outcome != "answered" and ibm.reason == "No document mentions IBM."


def test_the_shipped_index_was_read_with_this_tokenizer(shipped_bot):
    """A change to ``tokenize`` bumps ``TOKENIZER_VERSION`` and re-reads ``index/`` (``make index``): an index whose
    words another tokenizer read, under this version's number, would be served as fresh and search askew."""
    ix = shipped_bot.index
    assert ix.terms == [tokenize(index_io.lexical_text(c, True)) for c in ix.chunks]


def test_an_index_from_an_older_tokenizer_is_re_read_not_re_embedded(tmp_path, embedder):
    corpus = write_corpus(tmp_path / "c", {"lab.md": LAB})
    bot = build_bot(corpus, tmp_path / "ix", embedder)
    vectors = bot.index.chunk_vectors.copy()
    manifest_path = tmp_path / "ix" / index_io.MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["settings"]["tokenizer"] -= 1  # as written by the previous release
    manifest_path.write_text(json.dumps(manifest))
    settings = IndexSettings(model=embedder.name)
    assert index_io.only_tokenizer_changed(json.loads(manifest_path.read_text()), settings)
    again = index_io.retokenized(index_io.load(tmp_path / "ix"), settings)
    assert np.array_equal(again.chunk_vectors, vectors) and index_io.settings_changed(again.manifest, settings) is None
    assert again.terms == [tokenize(index_io.lexical_text(c, True)) for c in again.chunks]


def test_calibration_asks_masked_passages_back_and_is_stored_with_the_index(tmp_path, embedder):
    """Inverse-Cloze pseudo-queries over a real collection: every weighting is scored, the choice
    and its figures go into the manifest, the bot serves with them, and `qa index` reports them."""
    corpus = write_corpus(tmp_path / "c", towns())
    built = index_io.build_from_folder(corpus, IndexSettings(model=embedder.name), embedder.encode)
    chosen = calibration.calibrate(built, embedder.encode, queries=60, min_passages=10)
    assert chosen.queries == 60 and set(chosen.mrr) == {"/".join(f"{x:g}" for x in w) for w in calibration.GRID}
    assert chosen.weights in calibration.GRID and all(0 <= m <= 1 for m in chosen.mrr.values())
    best = max(chosen.mrr.values())
    assert chosen.mrr["/".join(f"{x:g}" for x in chosen.weights)] in (best, chosen.mrr["0.5/0.2/0.3"])
    assert "pseudo-queries" in chosen.summary()

    built.manifest["calibration"] = chosen.to_dict()
    index_io.save(built, tmp_path / "ix")
    bot = Bot(index_io.load(tmp_path / "ix"), embedder, corpus, tmp_path / "ix")
    f = bot.retriever.fusion
    assert (f.passage, f.sentence, f.lexical) == chosen.weights
    assert not calibration.stale(bot.index.manifest["calibration"], len(bot.index.chunks))  # one more file would not redo it
    assert calibration.stale(bot.index.manifest["calibration"], int(len(bot.index.chunks) * 1.2))


def test_calibration_of_a_summed_build_embeds_nothing_and_agrees_with_embedding(tmp_path, embedder):
    """With summed passage vectors, a passage without the sentence asked back is its sum minus that
    sentence's token vectors: no model call, and the same weighting figures as embedding it."""
    corpus = write_corpus(tmp_path / "c", towns())
    built = index_io.build_from_folder(corpus, IndexSettings(model=embedder.name, passage_vectors="summed"), embedder.encode)
    assert built.sums is not None and len(built.sums[0]) == len(built.sentences) and len(built.sums[1]) == len(built.chunks)
    calls: list[int] = []
    counted = lambda texts, **kw: calls.append(len(texts)) or embedder.encode(texts, **kw)  # noqa: E731
    fast = calibration.calibrate(built, counted, queries=60, min_passages=10)
    assert fast.queries == 60 and not calls
    sums, built.sums = built.sums, None
    slow = calibration.calibrate(built, counted, queries=60, min_passages=10)
    assert calls  # the masked passages embedded
    gaps = [abs(fast.mrr[w] - slow.mrr[w]) for w in fast.mrr]
    assert sum(gaps) / len(gaps) <= 0.05, (fast.mrr, slow.mrr)
    built.sums = sums
    calibration.keep_or_redo(built, counted)
    assert built.sums is None  # freed once used


def test_bot_load_calibrates_a_new_collection_once_and_serves_with_its_choice(tmp_path, embedder, monkeypatch):
    monkeypatch.setattr(calibration, "MIN_PASSAGES", 10)  # the 60 short files make 60 passages
    corpus = write_corpus(tmp_path / "c", towns())
    said: list[str] = []
    bot = Bot.load(corpus=corpus, on_status=said.append)
    stored = json.loads((corpus / ".qa-index" / index_io.MANIFEST).read_text())["calibration"]
    assert "Calibrating the ranking to this collection …" in said and stored["queries"] > 0
    f = bot.retriever.fusion
    assert [f.passage, f.sentence, f.lexical] == [stored["passage"], stored["sentence"], stored["lexical"]]
    said.clear()
    Bot.load(corpus=corpus, on_status=said.append)
    assert not any("Calibrating" in m for m in said)  # unchanged collection: the stored choice is kept


def towns(n: int = 60) -> dict[str, str]:
    """``n`` documents, each a few sentences about its own named town."""
    rng = np.random.default_rng(3)
    things = ["harbour", "bridge", "library", "orchard", "mill", "tower", "market", "canal", "school", "garden"]
    files = {}
    for i in range(n):
        a, b = rng.choice(things, 2, replace=False)
        files[f"town{i:02d}.md"] = (f"# Town {i}\n\nThe town of Vel{i}ora is known for its {a} and its {b}. "
                                    f"Its {a} was built {i + 3} years before the {b}. Visitors come for the {a} in spring. "
                                    f"Each autumn the council of Vel{i}ora repairs the {b}. The {b} closes in winter.\n")
    return files


def test_masked_passages_are_scored_as_bm25s_scores_indexed_ones(shipped_bot):
    ix = shipped_bot.index
    tokens = tokenize("How many data centers does the United States have compared with China?")
    scores = ix.lexical.scores(tokens)
    best = int(np.argmax(scores))
    avgdl = float(np.mean([len(t) for t in ix.terms]))
    assert abs(calibration._bm25(tokens, ix.terms[best], calibration._idf(ix, tokens), avgdl) - float(scores[best])) < 1e-3


def test_a_small_collection_keeps_the_default_weights_and_says_why(shipped_bot, embedder):
    chosen = calibration.calibrate(shipped_bot.index, embedder.encode)
    assert chosen.weights == calibration.GRID[0] and not chosen.queries and "fewer than" in chosen.summary()


def test_near_spellings_searched_by_length_find_what_a_full_search_finds():
    import random

    from qa.store.lexical import Spellings, near_term

    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(2, 14))) for _ in range(3000)]
    words += ["parisian", "ascent", "kubernetes", "schrodinger"]
    by_length = Spellings(words)
    typos = ["parisien", "ascend", "kubernets", "shrodinger"]
    for w in rng.sample(words, 300):
        t = list(w)
        t[rng.randrange(len(t))] = rng.choice("abcdefghij")
        typos.append("".join(t) + rng.choice(["", "a"]))
    for t in typos:
        for cutoff in (0.86, 0.7):
            assert near_term(t, by_length, cutoff) == near_term(t, words, cutoff)
    assert near_term("parisien", by_length) == "parisian" and near_term("shrodinger", by_length) == "schrodinger"
