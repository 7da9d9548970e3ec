"""The Gradio face: a chat whose answers show their sources, and an ``ask`` API endpoint.

The page appears at once; the model loads in the background while a status line
says so. Logic lives in plain functions (``render_answer``, ``BotHolder``) so it
can be tested without a browser.
"""
from __future__ import annotations

import html
import logging
import os
import threading
import time
from typing import Any, Iterator

from .errors import QAError
from .types import Answer, Citation

log = logging.getLogger(__name__)

EXAMPLES = [
    "How many industrial robots did China install in 2023?",
    "How much private money went into AI in the US in 2024?",
    "What is the Big Fund?",
    "Why does energy matter in the AI race?",
]
FRIENDLY_ERROR = "Sorry, something went wrong while answering. The error was logged; please try again."

CSS = """
.qa-answer { font-size: 1.02rem; line-height: 1.55; }
.qa-notfound { border-left: 4px solid #d97706; padding: .4rem .7rem; background: rgba(217,119,6,.08); border-radius: 6px; }
.qa-cards { display: flex; flex-direction: column; gap: .5rem; margin-top: .6rem; }
.qa-card { border: 1px solid rgba(128,128,128,.35); border-radius: 8px; padding: .5rem .7rem; }
.qa-card-head { font-size: .85rem; opacity: .85; margin-bottom: .25rem; overflow-wrap: anywhere; }
.qa-card-head b { opacity: 1; }
.qa-passage { font-size: .9rem; line-height: 1.45; white-space: pre-wrap; overflow-wrap: anywhere; }
.qa-passage mark { background: #fde68a; color: #111; padding: 0 .1rem; border-radius: 3px; }
.qa-ref { font-weight: 600; text-decoration: none; }
.qa-more summary, .qa-notfound + details summary { cursor: pointer; margin-top: .5rem; font-size: .9rem; opacity: .85; }
#qa-status { font-size: .9rem; opacity: .8; }
"""


# ---------------------------------------------------------------- rendering

def _card(c: Citation, uid: str) -> str:
    p, a, b = c.passage, c.highlight_start, c.highlight_start + len(c.highlight)
    body = f"{html.escape(p[:a])}<mark>{html.escape(p[a:b])}</mark>{html.escape(p[b:])}"
    head = (f"<b>[{c.number}] {html.escape(c.title)}</b> · <code>{html.escape(c.source)}</code> · "
            f"characters {c.start:,}–{c.end:,} · score {c.score:.2f}")
    return f'<div class="qa-card" id="{uid}-{c.number}"><div class="qa-card-head">{head}</div><div class="qa-passage">{body}</div></div>'


def render_text(answer: Answer, uid: str) -> str:
    """The answer sentence(s), with each [n] linking to its card."""
    text = html.escape(answer.text)
    for c in answer.citations:
        text = text.replace(f"[{c.number}]", f'<a class="qa-ref" href="#{uid}-{c.number}">[{c.number}]</a>')
    return text


def render_answer(answer: Answer, uid: str = "qa") -> str:
    """HTML for one chat reply: the answer, then numbered source cards (collapsed when not found)."""
    if answer.abstained:
        cards = "".join(_card(c, uid) for c in answer.citations)
        return (f'<div class="qa-notfound"><b>Not found in the corpus.</b> None of the documents answers this question.</div>'
                f'<details><summary>Closest passages ({len(answer.citations)})</summary><div class="qa-cards">{cards}</div></details>')
    # The passages the answer cites stay open; the rest wait behind one click.
    cited = [c for c in answer.citations if f"[{c.number}]" in answer.text]
    more = [c for c in answer.citations if c not in cited]
    html_ = f'<div class="qa-answer">{render_text(answer, uid)}</div><div class="qa-cards">{"".join(_card(c, uid) for c in cited)}</div>'
    if more:
        html_ += (f'<details class="qa-more"><summary>{len(more)} more passage{"s" if len(more) > 1 else ""}</summary>'
                  f'<div class="qa-cards">{"".join(_card(c, uid) for c in more)}</div></details>')
    return html_


# ---------------------------------------------------------------- the bot, loaded in the background

class BotHolder:
    """Loads the Bot on a thread so the page can show a status meanwhile."""

    def __init__(self, **load_kwargs: Any) -> None:
        self.status = "Loading the embedding model and index…"
        self.error: str | None = None
        self.bot = None
        self._ready = threading.Event()
        self._kwargs = load_kwargs
        from .bot import default_paths, is_shipped_corpus

        self.shipped_corpus = is_shipped_corpus(default_paths(load_kwargs.get("corpus"), None)[0])
        threading.Thread(target=self._load, name="qa-load", daemon=True).start()

    def _load(self) -> None:
        from .bot import Bot

        t0 = time.perf_counter()
        try:
            self.bot = Bot.load(on_status=self._set_status, **self._kwargs)
            c = self.bot.index.manifest.get("counts", {})
            rerank = f" · re-ranker {self.bot.reranker.name}" if self.bot.reranker else ""
            self.status = (f"Ready · {c.get('documents')} documents, {c.get('chunks')} passages · "
                           f"model {self.bot.index.settings.model}{rerank} · loaded in {time.perf_counter() - t0:.1f}s")
        except QAError as err:
            self.error = self.status = f"Cannot start: {err}"
        except Exception:  # noqa: BLE001 - shown as one line, logged in full
            log.exception("Loading the bot failed")
            self.error = self.status = "Cannot start: loading the bot failed (see the server log)."
        finally:
            self._ready.set()

    def _set_status(self, message: str) -> None:
        self.status = message

    def wait(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()


# ---------------------------------------------------------------- event handlers

def chat_reply(holder: BotHolder, message: str, history: list[dict]) -> Iterator[list[dict]]:
    """Yields the growing chat: the user turn, a searching note, the streamed answer, then the cards."""
    from .bot import check_question

    message = (message or "").strip()
    if not message:
        yield history
        return
    history = list(history or []) + [{"role": "user", "content": message}]
    try:
        check_question(message)
    except QAError as err:
        yield history + [{"role": "assistant", "content": str(err)}]
        return
    if not holder.ready:
        yield history + [{"role": "assistant", "content": "Loading the model, one moment…"}]
        holder.wait()
    if holder.bot is None:
        yield history + [{"role": "assistant", "content": holder.error or FRIENDLY_ERROR}]
        return
    yield history + [{"role": "assistant", "content": "Searching the documents…"}]
    try:
        answer = holder.bot.ask(message, history=history[:-1])
    except QAError as err:
        yield history + [{"role": "assistant", "content": str(err)}]
        return
    except Exception:  # noqa: BLE001
        log.exception("Answering %r failed", message)
        yield history + [{"role": "assistant", "content": FRIENDLY_ERROR}]
        return
    uid = f"qa{len(history)}"
    if not answer.abstained:
        words = answer.text.split(" ")
        step = max(1, len(words) // 6)
        for i in range(step, len(words), step):  # stream the answer sentence, then the evidence
            yield history + [{"role": "assistant", "content": html.escape(" ".join(words[:i])) + " …"}]
            time.sleep(0.02)
    yield history + [{"role": "assistant", "content": render_answer(answer, uid)}]


def api_ask(holder: BotHolder, question: str, history: list[dict] | None = None, k: int = 5) -> dict:
    import gradio as gr

    holder.wait()
    if holder.bot is None:
        raise gr.Error(holder.error or FRIENDLY_ERROR, print_exception=False)
    if isinstance(k, float) and k.is_integer():  # JSON clients may send 5.0
        k = int(k)
    try:
        return holder.bot.ask(question, history=history or None, k=k).to_dict()
    except QAError as err:
        raise gr.Error(str(err), print_exception=False) from None
    except Exception:  # noqa: BLE001
        log.exception("API ask failed")
        raise gr.Error(FRIENDLY_ERROR) from None


# ---------------------------------------------------------------- the app

def build_app(holder: BotHolder | None = None, **load_kwargs: Any):
    import gradio as gr

    holder = holder or BotHolder(**load_kwargs)

    with gr.Blocks(title="qa · ask the documents", fill_height=True) as demo:
        gr.Markdown("## Ask the documents\nAnswers are quoted from the corpus; every sentence cites its source, "
                    "with the answering sentence highlighted.")
        status = gr.Markdown(holder.status, elem_id="qa-status")
        chatbot = gr.Chatbot(elem_id="qa-chat", show_label=False, height="62vh", sanitize_html=True,
                             placeholder="Ask a question about the documents, or pick an example below.")
        with gr.Row(equal_height=True):
            box = gr.Textbox(placeholder="Ask a question…", show_label=False, scale=8, elem_id="qa-input", autofocus=True,
                             max_lines=4, submit_btn=False)
            send = gr.Button("Ask", variant="primary", scale=1, min_width=70, elem_id="qa-send")
            clear = gr.Button("Clear", variant="secondary", scale=1, min_width=70, elem_id="qa-clear")
        if holder.shipped_corpus:  # the examples are about the shipped articles
            gr.Examples(EXAMPLES, inputs=box, label="Examples")

        def reply(message, history):
            for h in chat_reply(holder, message, history):
                yield h, ""

        # One queue for the chat and the API: at most four questions are answered at a time.
        gr.on([box.submit, send.click], reply, [box, chatbot], [chatbot, box], api_visibility="private",
              concurrency_limit=4, concurrency_id="qa")
        clear.click(lambda: ([], ""), None, [chatbot, box], api_visibility="private")

        timer = gr.Timer(0.5)

        def poll():
            return holder.status, gr.Timer(active=not holder.ready)

        timer.tick(poll, None, [status, timer], api_visibility="private", show_progress="hidden")
        demo.load(poll, None, [status, timer], api_visibility="private", show_progress="hidden")

        def ask(question: str, history: list[dict] | None = None, k: int = 5) -> dict:
            """Answer a question from the corpus; returns the Answer as JSON (text, abstained, citations)."""
            return api_ask(holder, question, history, k)

        gr.api(ask, api_name="ask", concurrency_limit=4, concurrency_id="qa")
    demo.holder = holder
    return demo


def launch(host: str | None = None, port: int | None = None, **load_kwargs: Any) -> None:
    import gradio as gr

    on_space = bool(os.environ.get("SPACE_ID"))
    host = host or os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if on_space else "127.0.0.1")
    port = int(port or os.environ.get("GRADIO_SERVER_PORT") or 7860)
    demo = build_app(**load_kwargs)
    demo.queue(default_concurrency_limit=4, max_size=64)
    demo.launch(server_name=host, server_port=port, css=CSS, theme=gr.themes.Soft(), show_error=False)
