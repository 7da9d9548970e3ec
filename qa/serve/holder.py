"""The bot, loaded on a thread while the page is already up, with a status line saying how far it got."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from qa.errors import QAError

log = logging.getLogger(__name__)

RESTARTING = "The server is restarting: ask again in a few seconds."

# ---------------------------------------------------------------- the bot, loaded in the background

class BotHolder:
    """Loads the Bot on a thread so the page can show a status meanwhile."""

    def __init__(self, **load_kwargs: Any) -> None:
        self.status = "Loading the embedding model and index…"
        self.error: str | None = None
        self.bot = None
        self.stopping = False  # set when the server was told to stop: new questions get RESTARTING
        self._ready = threading.Event()
        self._kwargs = load_kwargs
        from qa.bot import default_paths, is_shipped_corpus

        self.shipped_corpus = is_shipped_corpus(default_paths(load_kwargs.get("corpus"), None)[0])
        threading.Thread(target=self._load, name="qa-load", daemon=True).start()

    def _load(self) -> None:
        from qa.bot import Bot

        from qa.answer.models import LLMError

        t0 = time.perf_counter()
        without_model = ""
        try:
            # A shared Milvus index is served as it is: a server never drops what others may be serving.
            try:
                self.bot = Bot.load(on_status=self._set_status, replace_stale=False, **self._kwargs)
            except LLMError as err:
                # The language model is optional: without it the chat still quotes the documents.
                log.error("Serving without the language model: %s", err)
                without_model = f" · no written answers: {err}"
                self.bot = Bot.load(on_status=self._set_status, replace_stale=False, **{**self._kwargs, "llm": ""})
            self.bot.embedder.prepare_questions()  # the faster question encoder, ready before most visitors
            threading.Thread(target=self._prepare_words, name="qa-words", daemon=True).start()
            self.bot.merge_in_background()  # changes left unmerged by an update that stopped: merged while serving
            c = self.bot.index.manifest.get("counts", {})
            rerank = f" · re-ranker {self.bot.reranker.name}" if self.bot.reranker else ""
            writer = f" · answers written by {self.bot.writer.name}, every sentence checked" if self.bot.writer else ""
            self.status = (f"Ready · {c.get('documents')} documents, {c.get('chunks')} passages · "
                           f"model {self.bot.index.settings.model}{rerank}{writer}{without_model} · loaded in {time.perf_counter() - t0:.1f}s")
        except QAError as err:
            self.error = self.status = f"Cannot start: {err}"
        except Exception:  # noqa: BLE001 - shown as one line, logged in full
            log.exception("Loading the bot failed")
            self.error = self.status = "Cannot start: loading the bot failed (see the server log)."
        finally:
            self._ready.set()

    @classmethod
    def of(cls, bot) -> "BotHolder":
        """A holder for a bot already loaded (tests, embedding the chat in another app)."""
        holder = cls.__new__(cls)
        holder.bot, holder.error, holder._kwargs, holder.stopping = bot, None, {}, False
        holder.status = f"Ready · {bot.index.document_count} documents"
        holder._ready = threading.Event()
        holder._ready.set()
        from qa.bot import is_shipped_corpus

        holder.shipped_corpus = bot.corpus is not None and is_shipped_corpus(bot.corpus)
        return holder

    def _prepare_words(self) -> None:
        """Optional speed: if embedding the words ahead fails, questions embed theirs as they come."""
        try:
            self.bot.prepare_words()
        except Exception as err:  # noqa: BLE001 - the chat answers all the same
            log.warning("Words are embedded as questions ask them: %s", err)

    def _set_status(self, message: str) -> None:
        self.status = message

    def wait(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()


def visitor_status(holder: "BotHolder", libraries, visitor: dict | None) -> str:
    """The status line as one visitor sees it: the shared documents and, once they uploaded, their own."""
    lib = libraries.get((visitor or {}).get("library")) if libraries is not None and holder.ready else None
    if lib is None or not lib.uploads:
        merging = holder.ready and holder.bot is not None and holder.bot.merging
        return holder.status + (" · merging the collection's changes in the background" if merging else "")
    own, shared = len(lib.uploads), lib.bot.index.document_count - len(lib.uploads)
    return (f"Ready · {shared + own} documents: {shared} shared and {own} of your own "
            f"({', '.join(u.removeprefix('uploads/') for u in lib.uploads[:3])}{' …' if own > 3 else ''}), "
            f"{lib.bot.index.passages} passages · only you can see your files")
