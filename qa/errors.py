"""Errors a user can act on: each message names the problem and the fix."""
from __future__ import annotations

from pathlib import Path


class QAError(Exception):
    """Base class: the CLI and UI show ``str(err)`` as one line, no traceback."""


class CorpusError(QAError):
    """The corpus folder is missing, empty or unreadable."""


class BadIndexError(QAError):
    """The persisted index is missing, corrupted or built for other settings."""


class SaveError(QAError):
    """The index could not be written (a full disk, a folder not writable); the previous one is intact.
    Not a ``BadIndexError``: nothing is wrong with the index, so it is never rebuilt for this."""


class IndexChangedError(SaveError):
    """Another process saved a change in the index folder since this one read it: saving now would lose it."""


class ModelError(QAError):
    """The embedding model cannot be found or loaded."""


class QuestionError(QAError, ValueError):
    """The question is empty or too long (a ``ValueError`` too, for API callers)."""


NO_SENTENCE_TRANSFORMERS = "sentence-transformers is not installed: run `make run` or `pip install -e .`."


def cannot_load(what: str, name: str, location: str, err: Exception, advice: str) -> ModelError:
    """One line for a model that would not load: which, from where, the library's first line, what to do."""
    where = "a local folder" if Path(location).exists() else "the Hugging Face hub (is it reachable?)"
    first = str(err).splitlines()[0] if str(err) else type(err).__name__
    return ModelError(f"Cannot load {what} {name!r} from {where}: {first}. {advice}")
