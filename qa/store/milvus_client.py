"""Reaching Milvus: where it is (``MilvusSettings``), the connection with its one-line errors, vectors
read by id like an array (``RemoteVectors``), and quiet for the engine's own tracebacks."""
from __future__ import annotations

import logging
import os
import re
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from qa.errors import BadIndexError, QAError


class MilvusUnavailable(QAError):
    """Milvus stopped answering while the bot was serving: this question gets one line, the chat goes on,
    and the next question tries again (pymilvus reconnects once the server is back)."""


@contextmanager
def answering(uri: str) -> Iterator[None]:
    """Calls made while answering a question: any failure of Milvus becomes ``MilvusUnavailable``."""
    try:
        with quiet():
            yield
    except QAError:
        raise
    except Exception as err:  # noqa: BLE001 - pymilvus and grpc raise many kinds for "gone"
        raise MilvusUnavailable(f"The Milvus server at {uri} did not answer ({first_line(err, 120)}): is it running? "
                                "Ask again once it is back.") from err


@dataclass(frozen=True)
class MilvusSettings:
    """Where the index lives. ``name`` prefixes the collections, so one server holds many corpora."""

    uri: str
    token: str = ""
    name: str = "qa"
    batch_chars: int = 200_000  # document text embedded and written between two save points

    @classmethod
    def from_env(cls, uri: str | None = None, token: str | None = None, name: str | None = None) -> "MilvusSettings | None":
        uri = (uri if uri is not None else os.environ.get("QA_MILVUS_URI", "")).strip()
        if not uri:
            return None
        token = token if token is not None else os.environ.get("QA_MILVUS_TOKEN", "")
        name = name or os.environ.get("QA_MILVUS_NAME", "") or "qa"
        try:
            batch = max(1, int(os.environ.get("QA_MILVUS_BATCH_CHARS", "") or 200_000))
        except ValueError:
            raise BadIndexError("QA_MILVUS_BATCH_CHARS must be a whole number of characters (default 200000).") from None
        if not name.replace("_", "").isalnum() or not name[0].isalpha():
            raise BadIndexError(f"The Milvus collection name {name!r} must start with a letter and hold only letters, "
                                "digits and underscores (QA_MILVUS_NAME).")
        return cls(uri, token, name, batch)


class RemoteVectors:
    """Rows of a Milvus collection's vectors, read like a NumPy array by id (``v[ids]``), fetched on
    first use and kept in a bounded cache."""

    def __init__(self, client, collection: str, rows: int, dim: int, cache: int = 200_000, uri: str = "Milvus") -> None:
        self.client, self.collection, self.shape, self.uri = client, collection, (rows, dim), uri
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._limit = cache
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    def __getitem__(self, ids) -> np.ndarray:
        single = np.isscalar(ids)
        wanted = [int(i) for i in np.atleast_1d(np.asarray(ids))]
        with self._lock:  # threads answering at once share the cache
            got = {i: self._cache[i] for i in wanted if i in self._cache}
            for i in got:
                self._cache.move_to_end(i)
        missing = sorted(set(wanted) - got.keys())
        with answering(self.uri):
            for i in range(0, len(missing), 1000):
                for r in self.client.get(self.collection, ids=missing[i:i + 1000], output_fields=["vector"]):
                    got[int(r["id"])] = np.asarray(r["vector"], dtype=np.float32)
        if missing:
            with self._lock:
                for i in missing:
                    self._cache[i] = got[i]
                while len(self._cache) > self._limit:
                    self._cache.popitem(last=False)
        if len(got) < len(set(wanted)):
            raise BadIndexError(f"The Milvus collection {self.collection} lost rows the index refers to: "
                                "run `qa index --rebuild --milvus-uri …`.")
        out = np.stack([got[i] for i in wanted]) if wanted else np.zeros((0, self.shape[1]), np.float32)
        return out[0] if single else out


def vector_index(lite: bool) -> dict:
    """Milvus Lite: FLAT, exact as the FAISS store (its AUTOINDEX would be approximate); a server:
    AUTOINDEX, which Milvus makes HNSW, for collections past what exact search serves quickly."""
    return {"index_type": "FLAT" if lite else "AUTOINDEX", "metric_type": "IP"}


def connect(settings: MilvusSettings):
    try:
        from pymilvus import MilvusClient
    except ImportError as err:
        raise BadIndexError('The Milvus store needs pymilvus: `pip install "qa[milvus]"`.') from err
    logging.getLogger("pymilvus").setLevel(logging.ERROR)  # its iterators warn about timestamps on every scan
    uri = settings.uri
    if uri.endswith(".db"):
        # Milvus Lite serves gRPC in this process, and logs a traceback for each call it does not implement
        # (pymilvus's iterators ask for a timestamp, then do without): noise, never news, for a user.
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        folder = os.path.dirname(os.path.abspath(uri))
        if not os.path.isdir(folder):
            raise BadIndexError(f"Cannot create the Milvus Lite file {uri}: the folder {folder} does not exist.")
        uri = os.path.abspath(uri)
    try:
        with quiet():  # Milvus Lite logs a traceback when it cannot start; what went wrong is said below
            client = MilvusClient(uri=uri, token=settings.token) if settings.token else MilvusClient(uri=uri)
            version = "" if uri.endswith(".db") else client.get_server_version()
    except Exception as err:  # noqa: BLE001 - pymilvus raises many kinds for "cannot connect"
        if uri.endswith(".db") and held_elsewhere(uri):
            raise BadIndexError(f"The Milvus Lite file {settings.uri} is in use by another process (a running app.py or qa "
                                "command): stop it and run again, or keep the index in a Milvus server, which many "
                                "processes can share.") from err
        first = first_line(err)
        raise BadIndexError(f"Cannot reach Milvus at {settings.uri} ({first}). Check the URI (a path ending in .db for "
                            "Milvus Lite, http://host:19530 for a server) and the token (QA_MILVUS_TOKEN).") from err
    if version and server_version(version) < MIN_SERVER:
        # Checked before anything is created: an older server fails half-way through making the collections.
        client.close()
        raise BadIndexError(f"The Milvus server at {settings.uri} runs {version}; qa needs Milvus "
                            f"{'.'.join(map(str, MIN_SERVER))} or newer (for its full-text BM25). Upgrade the server, "
                            "or keep the index in Milvus Lite (a path ending in .db).")
    return client


MIN_SERVER = (2, 5, 0)  # full-text search (BM25 functions) came with Milvus 2.5


def server_version(text: str) -> tuple[int, int, int]:
    """"v2.3.5-lite" → (2, 3, 5); what cannot be read counts as new enough (a build of the main branch)."""
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return (int(m[1]), int(m[2]), int(m[3] or 0)) if m else (99, 0, 0)


# What Milvus Lite says of a data file a killed process left cut short (pyarrow reading Parquet):
# a file to build again, unlike other errors (out of memory, a format this version cannot read).
DATA_FILE_DAMAGED = re.compile(r"parquet|magic bytes|not fully written|failed to read all data|arrowinvalid", re.I)


def held_elsewhere(path: str) -> bool:
    """Whether another process holds Milvus Lite's lock on the file at ``path`` (an advisory ``flock`` on
    its ``LOCK``, held while it is open): pymilvus reports only "Open local milvus failed"."""
    try:
        import fcntl
    except ImportError:  # not on Windows
        return False
    try:
        with open(os.path.join(path, "LOCK"), "rb") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(f, fcntl.LOCK_UN)
    except OSError:
        pass
    return False


def first_line(err: Exception, limit: int = 200) -> str:
    """pymilvus's message without its wrapping (``<MilvusException: (code=1, message=…)>``), one line."""
    text = str(getattr(err, "message", "") or err)
    line = text.splitlines()[0] if text else type(err).__name__
    return line if len(line) <= limit else line[:limit - 1].rstrip() + "…"


_QUIET = {"depth": 0, "levels": []}
_QUIET_LOCK = threading.Lock()


@contextmanager
def quiet() -> Iterator[None]:
    """pymilvus and Milvus Lite log a traceback for every failed call, also for one the caller handles.
    Counted, so that threads answering at once do not leave the loggers silenced or loud for good."""
    loggers = [logging.getLogger(name) for name in ("pymilvus", "milvus_lite")]
    with _QUIET_LOCK:
        if _QUIET["depth"] == 0:
            _QUIET["levels"] = [lg.level for lg in loggers]
            for lg in loggers:
                lg.setLevel(logging.CRITICAL)
        _QUIET["depth"] += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _QUIET["depth"] -= 1
            if _QUIET["depth"] == 0:
                for lg, level in zip(loggers, _QUIET["levels"]):
                    lg.setLevel(level)
