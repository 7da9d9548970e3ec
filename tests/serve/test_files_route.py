"""The route that serves a cited document's original: corpus files and the visitor's own uploads
only, never another path, however it is spelt."""
from __future__ import annotations

import os

import pytest

from qa.serve.chat import build_app
from qa.serve.server import make_server

from qa.serve.holder import BotHolder

from ..conftest import ROBOTS, build_bot, write_corpus
from ..writers import html_page, write_pdf


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):
    from fastapi.testclient import TestClient

    root = tmp_path_factory.mktemp("route")
    secret = root / "secret.txt"
    secret.write_text("TOP SECRET: the launch codes.", encoding="utf-8")
    corpus = write_corpus(root / "docs", {"robots.md": ROBOTS})
    write_pdf(corpus / "minutes.pdf", [["The board met in March."], ["Dredging will cost 4.2 million pounds."]], title="Minutes")
    (corpus / "page.html").write_text(html_page("Page", "A Page", [("S", ["Text of a saved web page <b>with tags</b>."])]))
    os.symlink(secret, corpus / "leak.txt")  # a link out of the corpus
    bot = build_bot(corpus, root / "ix", embedder)
    demo = build_app(BotHolder.of(bot))
    with TestClient(make_server(demo)) as client:
        yield client, demo, corpus


def test_corpus_files_are_served_pdf_inline_html_as_inert_text(served):
    client, _, corpus = served
    r = client.get("/qa/file/minutes.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content == (corpus / "minutes.pdf").read_bytes()
    r = client.get("/qa/file/page.html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert "sandbox" in r.headers["content-security-policy"] and r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", [
    "../secret.txt", "..%2Fsecret.txt", "%2e%2e/secret.txt", "%2E%2E%2Fsecret.txt", "docs/../../secret.txt",
    "/etc/passwd", "%2Fetc%2Fpasswd", "..%5Csecret.txt", "leak.txt", "robots.md%00.pdf",
    ".qa-index/manifest.json", "nonexistent.pdf", "uploads/robots.md",
])
def test_anything_but_an_indexed_file_of_the_collection_is_refused(served, path):
    client, _, _ = served
    r = client.get("/qa/file/" + path)
    assert r.status_code == 404
    assert b"launch codes" not in r.content and b"root:" not in r.content


def test_a_visitors_upload_is_served_with_their_token_only(served, tmp_path):
    client, demo, _ = served
    up = tmp_path / "u1"
    up.mkdir()
    (up / "ferry.md").write_text("# Ferries\n\nThe winter ferry leaves at 7:15.\n", encoding="utf-8")
    lib, added, _ = demo.libraries.add(None, demo.holder.bot, [str(up / "ferry.md")])
    other, _, _ = demo.libraries.add(None, demo.holder.bot, [str(write_corpus(tmp_path / "u2", {"x.md": "# X\n\nA note.\n"}) / "x.md")])
    assert added == ["uploads/ferry.md"]
    assert client.get(f"/qa/file/uploads/ferry.md?library={lib.token}").text.startswith("# Ferries")
    assert client.get("/qa/file/uploads/ferry.md").status_code == 404
    assert client.get(f"/qa/file/uploads/ferry.md?library={other.token}").status_code == 404
    assert client.get("/qa/file/uploads/ferry.md?library=guess").status_code == 404
