"""Visitors' own documents on a shared server: each upload goes into one visitor's library only.

A library is a private folder plus a ``Bot`` over the shared collection and that visitor's files
(``Bot.session``): other visitors never search it, and nobody can reach it without its token, a
random 32-byte string that only that visitor's browser session (or API client) holds. A library
is deleted when its session ends, and at the latest ``ttl`` seconds after it was last used.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from qa.errors import QAError
from qa.ingest import Limits, UnreadableFile
from qa.ingest.base import size_text

log = logging.getLogger(__name__)


class UploadRefused(QAError):
    """The server cannot take more uploads now."""


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class UploadLimits:
    """Per visitor. Defaults: 20 files, 100 MB in all, 50 MB a file (the reader's limit), kept 1 hour
    after last use; ``QA_MAX_SESSION_FILES``, ``QA_MAX_SESSION_MB``, ``QA_MAX_FILE_MB``, ``QA_SESSION_TTL``."""

    max_files: int = field(default_factory=lambda: int(_env_number("QA_MAX_SESSION_FILES", 20)))
    max_bytes: int = field(default_factory=lambda: int(_env_number("QA_MAX_SESSION_MB", 100) * 1_000_000))
    ttl: float = field(default_factory=lambda: _env_number("QA_SESSION_TTL", 3600))
    files: Limits = field(default_factory=Limits)
    # For the whole server: a small shared index is copied into each library; a large one is shared (``layers``).
    max_libraries: int = field(default_factory=lambda: int(_env_number("QA_MAX_LIBRARIES", 100)))
    max_total_bytes: int = field(default_factory=lambda: int(_env_number("QA_MAX_UPLOADS_MB", 2000) * 1_000_000))


_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def safe_name(name: str) -> str:
    """A file name that is only a name: no folders, no ``..``, no control or direction marks."""
    name = unicodedata.normalize("NFC", str(name).replace("\\", "/").rsplit("/", 1)[-1])
    name = _UNSAFE.sub("_", name).strip(" .")
    stem, dot, suffix = name.rpartition(".")
    if dot and len(name) > 120:
        name = stem[:100] + "." + suffix[:15]
    return name[:120] or "upload"


@dataclass
class Library:
    token: str
    folder: Path
    bot: object  # qa.bot.Bot, over the shared collection plus this visitor's files
    touched: float = field(default_factory=time.monotonic)
    bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def uploads(self) -> list[str]:
        return sorted(self.bot.files)


ROOT_PREFIX = "qa-uploads-"
OWNER = "owner.pid"  # the server process whose visitors' files these are


def remove_orphans(tmp: Path | None = None) -> int:
    """Delete visitors' files left behind by servers of this user that died without cleaning up (kill -9,
    power cut): nobody can reach them any more, and they would fill the disk. Returns how many went."""
    removed = 0
    for folder in Path(tmp or tempfile.gettempdir()).glob(ROOT_PREFIX + "*"):
        try:
            if folder.stat().st_uid != os.getuid():
                continue
            pid = int((folder / OWNER).read_text(encoding="ascii"))
        except (OSError, ValueError):
            continue  # not ours, or still being created
        if pid == os.getpid() or _alive(pid):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    if removed:
        log.info("Deleted the visitors' files of %d server%s that stopped without cleaning up.",
                 removed, "s" if removed > 1 else "")
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


class Libraries:
    """All visitors' libraries of one server, under one private temporary folder."""

    def __init__(self, limits: UploadLimits | None = None, root: Path | None = None) -> None:
        self.limits = limits or UploadLimits()
        if root is None:
            remove_orphans()
        self.root = Path(root or tempfile.mkdtemp(prefix=ROOT_PREFIX))
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        (self.root / OWNER).write_text(str(os.getpid()), encoding="ascii")
        self._libraries: dict[str, Library] = {}
        self._sessions: dict[str, str] = {}  # the web server's session id → library token
        self._lock = threading.Lock()
        self._closed = threading.Event()
        # Expired libraries are deleted even if nobody comes back to trigger it.
        threading.Thread(target=self._sweeper, name="qa-library-sweeper", daemon=True).start()

    def _sweeper(self) -> None:
        while not self._closed.wait(max(0.2, min(60.0, self.limits.ttl / 2))):
            self.sweep()

    def bind(self, session: str | None, token: str) -> None:
        """Remember which browser session owns a library, so that it can go when the session ends."""
        if session:
            with self._lock:
                self._sessions[session] = token

    def end_session(self, session: str | None) -> None:
        """The visitor left (closed the tab): their files are deleted now."""
        with self._lock:
            token = self._sessions.pop(session, None) if session else None
        self.drop(token)

    def get(self, token: str | None) -> Library | None:
        """The library of ``token``, or None (unknown, or expired: then it is deleted now)."""
        self.sweep()
        if not token or not isinstance(token, str):
            return None
        with self._lock:
            lib = self._libraries.get(token)
        if lib is not None:
            lib.touched = time.monotonic()
        return lib

    def create(self, base) -> Library:
        self.sweep()
        if len(self._libraries) >= self.limits.max_libraries:
            raise UploadRefused(f"This server already holds {len(self._libraries)} visitors' files, its limit; "
                                "try again later, or run qa on your own machine.")
        token = secrets.token_urlsafe(32)
        folder = self.root / secrets.token_hex(8)
        folder.mkdir(mode=0o700)
        lib = Library(token, folder, base.session())
        with self._lock:
            self._libraries[token] = lib
        return lib

    def add(self, token: str | None, base, paths: list[str | Path], on_status: Callable[[str], None] | None = None
            ) -> tuple[Library, list[str], list[str]]:
        """Copy uploaded files into the visitor's library and index them there.

        Returns (library, sources added, one warning per file refused). The web server's copies
        (``paths``) are left to its own cache expiry: Gradio stores an upload under a hash of its
        content, so two visitors sending the same file at once share that path, and deleting it for
        one would lose the other's upload (``bench/load.py`` found this).
        """
        lib = self.get(token)
        if lib is None:
            if token:
                raise UploadRefused("Your earlier files have expired or were deleted when the page disconnected; "
                                    "attach them again.")
            lib = self.create(base)
        warnings: list[str] = []
        staged: list[Path] = []
        with lib.lock:
            for p in map(Path, paths):
                name = safe_name(getattr(p, "orig_name", None) or p.name)
                try:
                    size = p.stat().st_size
                    if len(lib.bot.files) + len(staged) >= self.limits.max_files:
                        raise UnreadableFile(name, f"would pass the limit of {self.limits.max_files} files per visitor",
                                             "remove a file or start a new chat")
                    if size > self.limits.files.max_file_bytes:
                        raise UnreadableFile(name, f"is {size_text(size)}, over the {size_text(self.limits.files.max_file_bytes)} limit per file",
                                             "split it into smaller files")
                    if self.total_bytes() + size > self.limits.max_total_bytes:
                        raise UnreadableFile(name, "would pass this server's limit for all visitors' files", "try again later")
                    if lib.bytes + size > self.limits.max_bytes:
                        raise UnreadableFile(name, f"would pass the limit of {size_text(self.limits.max_bytes)} per visitor",
                                             "remove a file or start a new chat")
                    dest = lib.folder / name
                    n = 2
                    while dest.exists():
                        stem, dot, suffix = name.rpartition(".")
                        dest = lib.folder / (f"{stem} ({n}).{suffix}" if dot else f"{name} ({n})")
                        n += 1
                    shutil.copyfile(p, dest)
                    lib.bytes += size
                    staged.append(dest)
                except UnreadableFile as err:
                    warnings.append(str(err))
                except OSError as err:
                    warnings.append(f"Skipped {name}: it could not be received ({err.strerror}); try uploading it again.")
            before = set(lib.bot.files)
            try:
                refused = lib.bot.add(staged, limits=self.limits.files, on_status=on_status) if staged else []
            finally:
                for dest in staged:  # what the library did not take is not kept, nor counted
                    if f"uploads/{dest.name}" not in lib.bot.files and dest.exists():
                        lib.bytes -= dest.stat().st_size
                        dest.unlink()
            warnings += refused
            added = sorted(set(lib.bot.files) - before)
        return lib, added, warnings

    def total_bytes(self) -> int:
        with self._lock:
            return sum(lib.bytes for lib in self._libraries.values())

    def drop(self, token: str | None) -> None:
        """Forget a library and delete its files (its session ended)."""
        if not token or not isinstance(token, str):
            return
        with self._lock:
            lib = self._libraries.pop(token, None)
        if lib is not None:
            with lib.lock:  # not in the middle of adding files to it
                shutil.rmtree(lib.folder, ignore_errors=True)
            log.info("Deleted a visitor's library (%d files).", len(lib.bot.files))

    def sweep(self) -> None:
        """Delete libraries unused for longer than the limit."""
        now = time.monotonic()
        with self._lock:
            old = [t for t, lib in self._libraries.items() if now - lib.touched > self.limits.ttl]
        for t in old:
            self.drop(t)

    def close(self) -> None:
        self._closed.set()
        for t in list(self._libraries):
            self.drop(t)
        shutil.rmtree(self.root, ignore_errors=True)

    def __len__(self) -> int:
        return len(self._libraries)
