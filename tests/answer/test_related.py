"""A question's words that no passage holds are searched by the collection's own words for them
("guarantee" → "warranty"), with the real model, FAISS and BM25."""
from __future__ import annotations

import threading
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


def _slow_words(embedder, monkeypatch) -> threading.Event:
    """The model, made to wait on the collection's words thread until the returned event is set: a large
    collection's minute of embedding, without a large collection."""
    go = threading.Event()
    encode = embedder.encode

    def slow(texts, *args, **kwargs):
        if threading.current_thread().name == "qa-collection-words":
            assert go.wait(timeout=120), "the test never let the words be embedded"
        return encode(texts, *args, **kwargs)

    monkeypatch.setattr(embedder, "encode", slow)
    return go


def _asked(related: RelatedWords, question: str) -> list[str] | None:
    """``expand(question).terms`` from another thread, or None if it did not return within 30 s."""
    got: list = []
    worker = threading.Thread(target=lambda: got.append(related.expand(question).terms), daemon=True)
    worker.start()
    worker.join(timeout=30)
    return got[0] if got else None


def test_a_large_collections_words_are_embedded_behind_the_questions_not_before_them(tmp_path, embedder, monkeypatch):
    """More new passages than ``inline_passages``: questions are searched with their own words at once while
    the collection's words are embedded on a thread of their own, and use them once they are there."""
    bot = _bot(tmp_path, embedder)
    index = bot._answerer.related.index
    go = _slow_words(embedder, monkeypatch)
    related = RelatedWords(index, embedder, RelatedSettings(inline_passages=len(index.chunks) - 1))
    assert _asked(related, "Will the guarantee cover it?") == []  # answered at once, with its own words
    thread = related._thread
    assert thread is not None and thread.name == "qa-collection-words" and thread.is_alive()
    # A server's start (prepare) waits for the words; the questions meanwhile do not
    preparing = threading.Thread(target=related.prepare, daemon=True)
    preparing.start()
    assert _asked(related, "Does the guarantee cover wrong installation?") == []
    assert preparing.is_alive()
    go.set()
    preparing.join(timeout=120)
    assert not preparing.is_alive() and not thread.is_alive() and "warranty" in related._words
    assert tokenize("warranty")[0] in related.expand("Will the guarantee cover it?").terms
    # At or under the bound, the words are embedded while the first question waits, and no thread is started
    inline = RelatedWords(index, embedder, RelatedSettings(inline_passages=len(index.chunks)))
    assert tokenize("warranty")[0] in inline.expand("Will the guarantee cover it?").terms and inline._thread is None


def test_an_index_swapped_in_while_the_words_are_embedded_waits_for_them_rather_than_starting_again(
        tmp_path, embedder, monkeypatch):
    bot = _bot(tmp_path, embedder)
    index = bot._answerer.related.index
    go = _slow_words(embedder, monkeypatch)
    settings = RelatedSettings(inline_passages=len(index.chunks) - 1)
    first = RelatedWords(index, embedder, settings)
    assert _asked(first, "Will the guarantee cover it?") == []
    swapped = RelatedWords(index, embedder, settings, previous=first)  # an upload, while the words are embedded
    assert _asked(swapped, "Will the guarantee cover it?") == []
    go.set()
    swapped._thread.join(timeout=120)
    assert swapped._words == first._words  # the same documents: the earlier index's words, none embedded twice


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
    # Off the documents' topic, the "not found" reply names it too, as the person spelt it
    egg = bot.ask("How long should I boil an egg for a runny yolk?")
    assert egg.outcome == "not found" and egg.reason == "No document uses the words “runny” or “yolk”."
    assert related.expand("Is there a crème brûlée dessert?").absent[:1] == ["crème"]


def test_a_word_the_documents_write_with_a_hyphen_is_searched_by_its_parts_and_not_called_missing(tmp_path, embedder):
    """"Is the wifi free?" of a page that writes "Wi-Fi" (BM25 reads "wi" and "fi"): not "No document uses the
    word “wifi”", and the page's sentence is the answer."""
    corpus = write_corpus(tmp_path / "docs", {"library.md": "# Computers\n\nWi-Fi is free and needs no password. "
                                                             "E-bikes can be left in the rack by the door.\n",
                                              "fares.md": FARES, "waste.md": WASTE})
    bot = build_bot(corpus, tmp_path / "index", embedder)
    related = bot._answerer.related.expand("Is the wifi free?")
    assert related.absent == [] and {"wi", "fi"} <= set(related.terms)
    assert bot._answerer.related.expand("Where do I leave my ebike?").absent == []
    answer = bot.ask("Is the wifi free?")
    assert "wifi" not in answer.reason and "Wi-Fi is free" in answer.citations[0].highlight
    assert bot._answerer.related.expand("Is there a sauna by the wifi?").absent == ["sauna"]


def test_a_word_the_question_writes_with_a_hyphen_is_searched_joined(tmp_path, embedder):
    """The reverse: "e-mail" or "wi-fi" typed of a page that writes "email" and "wifi". BM25 reads the question's
    "wi" and "fi", which no passage holds; the joined word is searched, and its parts are not called missing."""
    corpus = write_corpus(tmp_path / "docs", {"centre.md": "# Contact\n\nTo book a room, email bookings@oakfield.example. "
                                                           "Wifi is free for visitors.\n",
                                              "fares.md": FARES, "waste.md": WASTE})
    bot = build_bot(corpus, tmp_path / "index", embedder)
    related = bot._answerer.related.expand("Is the wi-fi free?")
    assert related.terms[:1] == ["wifi"] and related.absent == []
    assert "email" in bot._answerer.related.expand("Can I e-mail you to book a room?").terms
    assert bot._answerer.related.expand("Is the wifi free?").terms == []  # written as the page writes it: nothing to add
    assert bot._answerer.related.expand("Can I e-mail you to book a room?").absent == []  # "mail" is no word the pages lack
    assert "Wifi is free" in bot.ask("Is the wi-fi free?").citations[0].highlight
