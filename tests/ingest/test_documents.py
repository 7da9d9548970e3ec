from __future__ import annotations

import pytest

from qa.ingest.documents import load_documents, title_of
from qa.errors import CorpusError



def test_title_is_first_nonempty_line_without_heading_marks():
    assert title_of("\n\n## Robots in Industry ##\nbody", "x") == "Robots in Industry"
    assert title_of("   \n", "fallback") == "fallback"


def test_loads_txt_and_md_recursively_verbatim(tiny_corpus):
    docs, warnings = load_documents(tiny_corpus)
    assert sorted(d.source for d in docs) == ["baking.txt", "geo/rivers.txt", "robots.md"]
    assert warnings == []
    robots = next(d for d in docs if d.source == "robots.md")
    assert robots.text == (tiny_corpus / "robots.md").read_text(encoding="utf-8")
    assert robots.title == "Robots in Industry"


def test_undecodable_file_is_skipped_with_one_warning(tiny_corpus):
    (tiny_corpus / "broken.txt").write_bytes(b"caf\xe9 \xff\xfe not utf-8")
    docs, warnings = load_documents(tiny_corpus)
    assert "broken.txt" not in {d.source for d in docs}
    assert len(docs) == 3
    assert len(warnings) == 1 and "broken.txt" in warnings[0] and "\n" not in warnings[0]


@pytest.mark.parametrize("make", ["missing", "empty", "no_text_files"])
def test_unusable_corpus_folder_is_a_clear_error(tmp_path, make):
    folder = tmp_path / "c"
    if make != "missing":
        folder.mkdir()
    if make == "no_text_files":
        (folder / "image.png").write_bytes(b"\x89PNG")
    with pytest.raises(CorpusError) as err:
        load_documents(folder)
    assert str(folder) in str(err.value)
