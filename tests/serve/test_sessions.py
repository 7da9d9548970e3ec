"""Visitors' uploads: private to their library, limited, and deleted when the session ends."""
from __future__ import annotations

import time

import pytest

from qa.serve.sessions import Libraries, UploadLimits, safe_name
from qa.ingest import Limits

from ..writers import write_pdf

FERRY = "# Ferries\n\nThe winter ferry to Skye leaves at 7:15 from the north pier.\n"


def _upload(tmp_path, name: str, content: str | bytes) -> str:
    """A file as the web server hands it over: in its own temporary folder."""
    folder = tmp_path / f"gradio-{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    p = folder / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(p)


def test_a_visitors_files_are_searched_in_their_library_only(shipped_bot, tmp_path):
    libs = Libraries(root=tmp_path / "libs")
    a, added, warnings = libs.add(None, shipped_bot, [_upload(tmp_path, "ferry.md", FERRY)])
    assert added == ["uploads/ferry.md"] and warnings == []
    b, _, _ = libs.add(None, shipped_bot, [_upload(tmp_path, "tides.md", "# Tides\n\nSpring tides come twice a month.\n")])
    q = "When does the winter ferry to Skye leave?"
    assert a.bot.ask(q).citations[0].source == "uploads/ferry.md"
    for other in (b.bot, shipped_bot):  # another visitor, and the shared bot, never see it
        assert all(not c.source.startswith("uploads/ferry") for c in other.ask(q).citations)
    assert "uploads/ferry.md" not in shipped_bot.index.documents and len(shipped_bot.index.docs) == 5
    assert a.bot.file_path("uploads/ferry.md").read_text() == FERRY and b.bot.file_path("uploads/ferry.md") is None
    libs.close()


def test_the_status_line_counts_a_visitors_own_files_and_only_theirs(shipped_bot, tmp_path):
    from qa.serve.holder import BotHolder, visitor_status

    libs = Libraries(root=tmp_path / "libs")
    holder = BotHolder.of(shipped_bot)
    shared = len(shipped_bot.index.docs)
    assert visitor_status(holder, libs, {}) == holder.status == f"Ready · {shared} documents"
    lib, added, _ = libs.add(None, shipped_bot, [_upload(tmp_path, "ferry.md", FERRY)])
    mine = visitor_status(holder, libs, {"library": lib.token})
    assert f"{shared + 1} documents: {shared} shared and 1 of your own (ferry.md)" in mine
    assert visitor_status(holder, libs, {"library": "someone-else"}) == holder.status  # an unknown token: nothing of anyone's


def test_the_same_upload_reaches_two_visitors_and_ending_a_session_deletes_its_library(shipped_bot, tmp_path):
    libs = Libraries(root=tmp_path / "libs")
    upload = _upload(tmp_path, "ferry.md", FERRY)  # Gradio gives identical uploads one path
    lib, added, _ = libs.add(None, shipped_bot, [upload])
    other, added_too, warnings = libs.add(None, shipped_bot, [upload])
    assert added == added_too == ["uploads/ferry.md"] and not warnings and other.token != lib.token
    libs.bind("session-1", lib.token)
    assert any(lib.folder.iterdir())
    libs.end_session("session-1")
    assert not lib.folder.exists() and libs.get(lib.token) is None
    libs.close()


def test_libraries_expire_after_their_time_to_live(shipped_bot, tmp_path):
    libs = Libraries(UploadLimits(ttl=0.5), root=tmp_path / "libs")
    lib, _, _ = libs.add(None, shipped_bot, [_upload(tmp_path, "ferry.md", FERRY)])
    deadline = time.time() + 10
    while lib.folder.exists() and time.time() < deadline:  # the sweeper runs on its own
        time.sleep(0.1)
    assert not lib.folder.exists() and libs.get(lib.token) is None
    libs.close()


def test_file_count_and_size_limits_hold(shipped_bot, tmp_path):
    libs = Libraries(UploadLimits(max_files=3, max_bytes=3000, files=Limits(max_file_bytes=2000)), root=tmp_path / "libs")
    big = _upload(tmp_path, "big.txt", "Big file.\n" + "x" * 2500)
    lib, added, warnings = libs.add(None, shipped_bot, [big, _upload(tmp_path, "a.md", FERRY)])
    assert added == ["uploads/a.md"] and len(warnings) == 1 and "big.txt" in warnings[0] and "limit per file" in warnings[0]
    _, added, warnings = libs.add(lib.token, shipped_bot, [_upload(tmp_path, "b.md", "# B\n\n" + "Tides. " * 270),
                                                           _upload(tmp_path, "c.md", "# C\n\n" + "Winds. " * 270)])
    assert added == ["uploads/b.md"] and len(warnings) == 1 and "c.md" in warnings[0] and "3 KB per visitor" in warnings[0]
    _, added, warnings = libs.add(lib.token, shipped_bot, [_upload(tmp_path, "d.md", "# D\n\nA note.\n"),
                                                           _upload(tmp_path, "e.md", "# E\n\nA note.\n")])
    assert added == ["uploads/d.md"] and len(warnings) == 1 and "e.md" in warnings[0] and "limit of 3 files" in warnings[0]
    assert len(list(lib.folder.iterdir())) == 3  # what was refused is not kept
    libs.close()


@pytest.mark.parametrize("name, safe", [
    ("../../etc/passwd", "passwd"), ("..\\..\\boot.ini", "boot.ini"), ("/abs/path/report.pdf", "report.pdf"),
    ("rapport\u202eFDP.exe", "rapport_FDP.exe"), ("..", "upload"), ("naïve résumé.pdf", "naïve résumé.pdf"),
    ("报告 2026.pdf", "报告 2026.pdf"), ("a\x00b.txt", "a_b.txt"),
])
def test_upload_names_are_only_names(name, safe):
    assert safe_name(name) == safe


def test_odd_names_and_a_pdf_arrive_in_the_library(shipped_bot, tmp_path):
    libs = Libraries(root=tmp_path / "libs")
    pdf = write_pdf(tmp_path / "src.pdf", [["The harbour seal survey counted 212 seals."], ["The survey is repeated each spring."]],
                    title="Seal Survey")
    upload = _upload(tmp_path, "x.pdf", pdf.read_bytes())
    renamed = tmp_path / "évaluation ../seals.pdf"
    lib, added, warnings = libs.add(None, shipped_bot, [upload])
    assert added == ["uploads/x.pdf"] and not warnings
    c = lib.bot.ask("How many seals did the harbour survey count?").citations[0]
    assert c.source == "uploads/x.pdf" and c.page == 1 and "212" in c.highlight
    assert all(p.parent == lib.folder for p in lib.folder.iterdir())
    assert not renamed.exists()
    libs.close()


def test_an_expired_library_is_said_and_the_server_wide_cap_holds(shipped_bot, tmp_path):
    from qa.serve.sessions import UploadRefused

    libs = Libraries(UploadLimits(max_libraries=1), root=tmp_path / "libs")
    lib, _, _ = libs.add(None, shipped_bot, [_upload(tmp_path, "ferry.md", FERRY)])
    with pytest.raises(UploadRefused, match="limit"):
        libs.add(None, shipped_bot, [_upload(tmp_path, "more.md", FERRY)])
    libs.drop(lib.token)
    with pytest.raises(UploadRefused, match="expired"):
        libs.add(lib.token, shipped_bot, [_upload(tmp_path, "again.md", FERRY)])
    libs.close()


def test_upload_turns_are_not_folded_into_follow_ups():
    from qa.serve.chat import ATTACHED, conversation

    chat = [{"role": "user", "content": "How long is the ridge walk?"},
            {"role": "assistant", "content": "It is 14 km long. [1]"},
            {"role": "user", "content": ATTACHED + "trail.pdf"},
            {"role": "assistant", "content": "Added trail.pdf: ask away."}]
    assert conversation(chat) == chat[:2]


def _index_bytes(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_kill_9_during_an_upload_loses_nothing_and_the_next_start_deletes_what_it_left(tmp_path):
    """The server dies while it embeds a visitor's file: the shared index is untouched, the next start
    serves it, and the dead server's private upload folder is deleted rather than left to fill the disk."""
    import os
    import signal
    import threading

    from gradio_client import Client, handle_file

    from ..conftest import ROOT, served_app

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp)}
    shipped = _index_bytes(ROOT / "index")
    book = tmp_path / "keepers-log.txt"
    book.write_text("Keeper's Log\n\n" + "\n\n".join(
        f"Paragraph {i}. The lighthouse keeper logged {i} ships passing the reef in week {i}." for i in range(3000)),
        encoding="utf-8")
    with served_app(extra_env=env) as (url, log, proc):
        client = Client(url, verbose=False)
        errors: list[Exception] = []

        def upload():
            try:
                client.predict(files=[handle_file(str(book))], library="", api_name="/upload")
            except Exception as err:  # noqa: BLE001 - the server is killed under it
                errors.append(err)

        t = threading.Thread(target=upload, daemon=True)
        t.start()
        deadline = time.time() + 120
        while "Embedding passages" not in log.read_text() and time.time() < deadline:
            time.sleep(0.05)
        assert "Embedding passages" in log.read_text()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        t.join(timeout=60)
        left = list(tmp.glob("qa-uploads-*"))
        assert len(left) == 1 and any(left[0].rglob("keepers-log.txt"))
    assert _index_bytes(ROOT / "index") == shipped
    running = tmp / "qa-uploads-of-a-running-server"  # this test's process stands in for it
    running.mkdir()
    (running / "owner.pid").write_text(str(os.getpid()))

    with served_app(extra_env=env) as (url, log, _):
        ans = Client(url, verbose=False).predict(question="How many industrial robots did China install in 2023?",
                                                 api_name="/ask")
        assert "276,000" in ans["citations"][0]["highlight"]
        now = [p for p in tmp.glob("qa-uploads-*") if p != running]
        assert running.exists() and left[0] not in now and len(now) == 1 and not any(now[0].rglob("keepers-log.txt"))
        # (Gradio's own copy of the upload, in its cache, goes with its delete_cache sweep after the session TTL.)
        assert "stopped without cleaning up" in log.read_text()
