"""A question's words that no passage holds are searched by the collection's own words for them
("guarantee" → "warranty"), with the real model, FAISS and BM25."""
from __future__ import annotations

from dataclasses import replace

from qa.answer.related import Related, RelatedSettings, RelatedWords, _ahead
from qa.store.lexical import tokenize

from ..conftest import build_bot, write_corpus

WARRANTY = """# Your washing machine's warranty

Your machine has a two-year warranty from the date of delivery. The warranty does not apply to faults caused by wrong installation.
"""
WASTE = """# Bulky waste collections

We collect up to three items for £38. Garden waste must be put out in paper bags, not plastic rubbish bags.
"""
FARES = """# Fares

A single ride costs $2.50. The fare covers one ride of up to 30 minutes; longer rides cost more.
"""


def _bot(tmp_path, embedder):
    corpus = write_corpus(tmp_path / "docs", {"warranty.md": WARRANTY, "waste.md": WASTE, "fares.md": FARES})
    return build_bot(corpus, tmp_path / "index", embedder)


def test_a_word_no_passage_holds_is_searched_by_the_collections_word_for_it(tmp_path, embedder):
    bot = _bot(tmp_path, embedder)
    related = bot._answerer.related
    extra = related.expand("Will the guarantee cover it if I hooked it up wrong myself?").terms
    assert tokenize("warranty")[0] in extra  # "guarantee" is in no passage; "warranty" means it
    assert tokenize("guarantee")[0] not in extra
    sacks = related.expand("Will they take my leaves in black trash sacks?").terms
    assert tokenize("rubbish")[0] in sacks or tokenize("bags")[0] in sacks
    # Words the collection has are searched as written, and nothing is added for them.
    assert related.expand("Does the warranty apply to faults?") == Related()
    answer = bot.ask("Will the guarantee cover it if I hooked it up wrong myself?")
    assert answer.citations[0].source == "warranty.md"
    assert "wrong installation" in answer.citations[0].highlight


def test_words_embedded_ahead_are_used_and_a_large_collection_is_left_as_it_is(tmp_path, embedder, monkeypatch):
    bot = _bot(tmp_path, embedder)
    related = bot._answerer.related
    bot.prepare_words()
    assert "guarantee" in _ahead(embedder) and "warranty" in related._words  # the model's words, and the collection's
    calls = []
    encode = embedder.encode_queries
    monkeypatch.setattr(embedder, "encode_queries", lambda texts: calls.append(list(texts)) or encode(texts))
    assert tokenize("warranty")[0] in related.expand("Does the guarantee cover it?").terms
    assert calls == []  # "guarantee" was embedded ahead: no model pass while the question waits
    small = RelatedWords(bot.index, embedder, replace(related.settings, max_passages=len(bot.index.chunks) - 1))
    assert not small.enabled and small.expand("Does the guarantee cover it?") == Related()


def test_an_index_swapped_in_keeps_the_words_embedded_and_a_visitors_words_stay_in_the_session(tmp_path, embedder):
    bot = _bot(tmp_path, embedder)
    bot._answerer.related.expand("Does the guarantee cover it?")  # the collection's words, embedded
    shared_words = list(bot._answerer.related._words)
    visitor = bot.session()
    extra = tmp_path / "upload" / "kettle.md"
    extra.parent.mkdir()
    extra.write_text("# Kettle\n\nDescale the kettle every month with citric acid.\n", encoding="utf-8")
    visitor.add(extra)
    mine = visitor._answerer.related
    mine.expand("How do I get rid of limescale in my kettle?")
    assert "descale" in mine._words  # the upload's words, embedded for this session
    assert mine._words[:len(shared_words)] == shared_words  # the shared words were kept, not embedded again
    assert "descale" not in bot._answerer.related._words  # the visitor's words are not the other visitors'
    assert "descale" not in _ahead(embedder)
    # A name no document mentions still reaches the judge as written, which says so
    answer = bot.ask("Does the warranty cover machines bought in Vietnam?")
    assert answer.outcome != "answered" and "Vietnam" in answer.reason


def test_a_large_collections_words_are_embedded_behind_the_questions_not_before_them(tmp_path, embedder):
    """More new passages than ``inline_passages``: the first question is searched with its own words at once,
    while the collection's words are embedded on a thread of their own; later questions use them."""
    bot = _bot(tmp_path, embedder)
    index = bot._answerer.related.index
    related = RelatedWords(index, embedder, RelatedSettings(inline_passages=len(index.chunks) - 1))
    first = related.expand("Will the guarantee cover it?").terms
    thread = related._thread
    assert thread is not None and thread.name == "qa-collection-words"
    assert first == [] or tokenize("warranty")[0] in first  # the thread may already have finished
    thread.join(timeout=120)
    assert not thread.is_alive() and "warranty" in related._words
    assert tokenize("warranty")[0] in related.expand("Will the guarantee cover it?").terms
    # At or under the bound, the words are embedded while the first question waits, and no thread is started
    inline = RelatedWords(index, embedder, RelatedSettings(inline_passages=len(index.chunks)))
    assert tokenize("warranty")[0] in inline.expand("Will the guarantee cover it?").terms and inline._thread is None


def test_a_word_the_collection_has_nothing_for_is_named_in_the_warning(tmp_path, embedder):
    """"Is there a sauna?" of documents that never mention one, nor anything like it: the reply says what is
    missing. Common words no passage holds ("moment") and misspellings of the documents' words are not named."""
    bot = _bot(tmp_path, embedder)
    related = bot._answerer.related
    assert related.expand("Is there a sauna next to the washing machines?").absent == ["sauna"]
    assert related.expand("Money's tight at the moment. Is the warranty free?").absent == []
    assert related.expand("Does the waranty cover installation faults?").absent == []  # a typo of "warranty"
    answer = bot.ask("Is there a sauna next to the washing machines?")
    assert answer.outcome != "answered" and answer.reason == "No document uses the word “sauna”."
    assert "No document uses the word “sauna”." in answer.text and "None of the documents answers" not in answer.text
