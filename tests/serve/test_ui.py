"""The chat's rendering and handlers, without a browser (the browser test drives the page)."""
from __future__ import annotations

from html import unescape

from qa.types import Answer, Citation
from qa.serve.chat import FRIENDLY_ERROR, chat_reply
from qa.serve.render import render_answer


def _answer(abstained=False):
    c = Citation(1, "dir/a.txt", "A <Title>", "Before. The answer is 42. After.", 10, 44, 0.81234,
                 "The answer is 42.", highlight_start=8)
    return Answer("q?", "Not found" if abstained else "The answer is 42. [1]", [c], abstained=abstained)


def test_source_card_shows_title_file_position_score_and_highlight():
    html = render_answer(_answer(), uid="t")
    assert "<Title>" not in html and "A <Title>" in unescape(html)  # escaped
    assert "dir/a.txt" in unescape(html) and "characters 10–44" in html and "score 0.81" in unescape(html)
    assert "Before. <mark>The answer is 42.</mark> After." in unescape(html)
    assert '<a class="qa-ref" href="#t-1">[1]</a>' in html and 'id="t-1"' in html


def test_uncited_passages_are_behind_one_click():
    a = _answer()
    a.citations.append(Citation(2, "b.txt", "B", "Other text.", 0, 11, 0.3, "Other text."))
    html = render_answer(a, uid="t")
    assert html.index('id="t-1"') < html.index('<details class="qa-more">') < html.index('id="t-2"')
    assert "1 more passage<" in html


def test_abstention_looks_different_and_collapses_the_passages():
    html = render_answer(_answer(abstained=True))
    assert "Not found in the documents" in html and "qa-notfound" in html and "None of the documents answers" not in html
    assert html.index("<details>") < html.index("qa-card")


class _Holder:
    """A loaded-bot holder stand-in for the handler's plumbing: the bot itself is real."""

    def __init__(self, bot):
        self.bot, self.ready, self.error, self.status, self.stopping = bot, True, None, "Ready", False

    def wait(self, timeout=None):
        return True


def test_empty_message_does_nothing(shipped_bot):
    assert list(chat_reply(_Holder(shipped_bot), "   ", [])) == [[]]


def test_over_long_message_gets_a_clear_note(shipped_bot):
    final = list(chat_reply(_Holder(shipped_bot), "why " * 1000, []))[-1]
    assert "the limit is 2,000" in final[-1]["content"]


def test_reply_streams_then_shows_cards(shipped_bot):
    states = list(chat_reply(_Holder(shipped_bot), "How many industrial robots did China install in 2023?", []))
    assert len(states) >= 3
    assert states[0][-1]["content"] == "Searching the documents…"
    assert states[1][-1]["content"].endswith("…")  # the answer sentence arriving word by word
    final = states[-1][-1]["content"]
    assert "qa-card" in final and "<mark>" in final and "276,000" in unescape(final)


def test_internal_error_becomes_one_friendly_line(shipped_bot):
    class Broken:
        def ask_stream(self, *a, **kw):
            raise RuntimeError("boom")

    final = list(chat_reply(_Holder(Broken()), "What is the Big Fund?", []))[-1]
    assert final[-1]["content"] == FRIENDLY_ERROR and "boom" not in final[-1]["content"]


def test_gradio_history_parts_reach_the_bot(shipped_bot):
    """Gradio 6 hands the handler messages whose content is a list of parts; follow-ups must still work."""
    first = "How much private money went into AI in the United States in 2024?"
    reply = list(chat_reply(_Holder(shipped_bot), first, []))[-1]
    as_gradio_sends_it = [{"role": m["role"], "content": [{"type": "text", "text": m["content"]}]} for m in reply]
    final = list(chat_reply(_Holder(shipped_bot), "And how much was China's?", as_gradio_sends_it))[-1][-1]["content"]
    cited = final.split('<div class="qa-cards">')[1]
    assert "$9.3 billion" in unescape(cited.split('class="qa-card"')[1])


def test_a_bot_that_cannot_load_says_why_in_the_status_and_the_chat(tmp_path):
    from qa.serve.holder import BotHolder

    holder = BotHolder(corpus=tmp_path / "missing")
    assert holder.wait(120)
    assert holder.bot is None and "does not exist" in holder.status
    final = list(chat_reply(holder, "What is the Big Fund?", []))[-1][-1]["content"]
    assert final.startswith("Cannot start:") and "does not exist" in final


def test_a_tentative_answer_renders_its_warning_once_above_an_open_highlighted_card(shipped_bot):
    answer = shipped_bot.ask("How many industrial robots did China install in 2019?")
    assert answer.tentative
    html = render_answer(answer, "t1")
    from qa.serve.render import as_text

    assert html.count('class="qa-tentative"') == 1 and html.count(as_text(answer.reason)) == 1  # said once
    assert html.index("qa-tentative") < html.index("qa-answer") < html.index("qa-cards")
    first_card = html[html.index('<div class="qa-cards">'):]
    assert "<mark" in first_card.split("</details>")[0] and "276,000" in first_card  # open, highlighted
    assert "None of the documents" not in html and "qa-notfound" not in html
