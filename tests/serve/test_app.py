"""The launched app (``python app.py``) through gradio_client, as API users meet it."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from qa.evaluate.labeled import contains

from ..conftest import ROOT

QUESTIONS = [
    ("How many industrial robots did China install in 2023?", "276,000"),
    ("What is the Big Fund?", "National Integrated Circuit Industry Investment Fund"),
    ("How much private money went into AI in the US in 2024?", "$109 billion"),
    ("Which bank said China's AI catch-up is happening remarkably fast?", "Barclays"),
    ("How many gigawatts of capacity can China add in a single year?", "429 GW"),
]


@pytest.fixture(scope="module")
def client(app_url):
    from gradio_client import Client

    return Client(app_url[0], verbose=False)


def test_ask_endpoint_returns_the_answer_as_json(client):
    ans = client.predict(question=QUESTIONS[0][0], api_name="/ask")
    assert set(ans) >= {"text", "citations", "abstained"}
    c = ans["citations"][0]
    assert "276,000" in c["highlight"] and ans["text"].endswith("[1]")
    assert (ROOT / "corpus" / c["source"]).read_text(encoding="utf-8")[c["start"]:c["end"]] == c["passage"]


def test_ask_endpoint_takes_history_for_follow_ups(client):
    history = [{"role": "user", "content": "How much private money went into AI in the United States in 2024?"},
               {"role": "assistant", "content": "About $109 billion [1]"}]
    ans = client.predict(question="And how much was China's?", history=history, api_name="/ask")
    assert contains(ans["citations"][0]["passage"], "$9.3 billion")


def test_a_tentative_answer_comes_with_its_sentence_its_reason_and_its_confidence(client):
    ans = client.predict(question="How many industrial robots did China install in 2019?", api_name="/ask")
    assert ans["outcome"] == "tentative" and ans["tentative"] and not ans["abstained"]
    assert "another year" in ans["reason"] and 0 <= ans["confidence"] < 1
    assert "276,000" in ans["citations"][0]["highlight"] and ans["citations"][0]["highlight"] in ans["text"]


def test_unanswerable_question_is_marked_abstained(client):
    ans = client.predict(question="Who won the 2018 FIFA World Cup?", api_name="/ask")
    assert ans["abstained"] and ans["outcome"] == "not found" and ans["text"].startswith("Not found in the documents.")
    assert ans["reason"] == "No document mentions FIFA." and 0 <= ans["confidence"] < 0.5


def test_empty_question_is_a_clear_error_not_a_traceback(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as err:
        client.predict(question="  ", api_name="/ask")
    assert "empty" in str(err.value) and "Traceback" not in str(err.value)


def test_ten_concurrent_clients_all_get_correct_answers(app_url):
    from gradio_client import Client

    def one(i):
        q, expected = QUESTIONS[i % len(QUESTIONS)]
        ans = Client(app_url[0], verbose=False).predict(question=q, api_name="/ask")
        return contains(ans["citations"][0]["passage"], expected)

    with ThreadPoolExecutor(max_workers=10) as pool:
        assert all(pool.map(one, range(10)))


def test_app_starts_from_the_committed_index_without_re_embedding(client, app_url):
    client.predict(question="What is the Big Fund?", api_name="/ask")
    log = app_url[1].read_text()
    # (Visitors' uploads, from other tests, embed their own files: only the start-up's own steps count.)
    assert "Model loaded" in log and "Building the index" not in log and "Updating the index" not in log
    assert "Calibrating" not in log and "Re-reading the index" not in log


# ---------------------------------------------------------------- uploads through the API

def _upload(client, path, library=""):
    from gradio_client import handle_file

    return client.predict(files=[handle_file(str(path))], library=library, api_name="/upload")


def test_upload_then_ask_cites_the_uploaded_pdf_with_its_page(client, tmp_path):
    from ..writers import write_pdf

    pdf = write_pdf(tmp_path / "seals.pdf", [["The board met in March to plan the survey."],
                                             ["The harbour seal survey counted 212 grey seals on the sandbanks."]], title="Seal Survey")
    up = _upload(client, pdf)
    assert up["added"] == ["uploads/seals.pdf"] and up["warnings"] == [] and len(up["library"]) >= 40
    ans = client.predict(question="How many grey seals did the survey count?", library=up["library"], api_name="/ask")
    c = ans["citations"][0]
    assert c["source"] == "uploads/seals.pdf" and c["page"] == 2 and "212" in c["highlight"] and c["kind"] == "pdf"
    doc = client.predict(source="uploads/seals.pdf", library=up["library"], api_name="/document")
    assert doc["text"][c["start"]:c["end"]] == c["passage"] and doc["kind"] == "pdf" and len(doc["pages"]) == 2
    with pytest.raises(Exception, match="No document"):
        client.predict(source="uploads/seals.pdf", library="", api_name="/document")  # not without the token


def test_bad_uploads_get_one_line_each_and_an_unknown_library_is_refused(client, tmp_path):
    from gradio_client import handle_file

    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "fake.pdf").write_text("not a pdf")
    (tmp_path / "good.md").write_text("# Note\n\nThe ferry leaves at 7:15.\n")
    up = client.predict(files=[handle_file(str(tmp_path / n)) for n in ("empty.txt", "fake.pdf", "good.md")],
                        library="", api_name="/upload")
    assert up["added"] == ["uploads/good.md"] and len(up["warnings"]) == 2
    assert all(w.startswith("Skipped ") and "\n" not in w for w in up["warnings"])
    with pytest.raises(Exception, match="Unknown or expired library"):
        client.predict(question="When does the ferry leave?", library="not-a-token", api_name="/ask")


def test_two_concurrent_visitors_never_see_each_others_files(app_url, tmp_path):
    from gradio_client import Client

    docs = {
        "a": ("ferry.md", "# Ferries\n\nThe winter ferry to Skye leaves at 7:15 from the north pier.\n",
              "When does the winter ferry to Skye leave?"),
        "b": ("bees.md", "# Beekeeping\n\nA healthy hive holds about 40,000 worker bees in midsummer.\n",
              "How many worker bees does a healthy hive hold in midsummer?"),
    }

    def visitor(key):
        name, text, question = docs[key]
        other_q = docs["b" if key == "a" else "a"][2]
        c = Client(app_url[0], verbose=False)
        (tmp_path / key).mkdir()
        (tmp_path / key / name).write_text(text)
        lib = _upload(c, tmp_path / key / name)["library"]
        out = []
        for _ in range(3):  # interleaved with the other visitor's questions
            mine = c.predict(question=question, library=lib, api_name="/ask")
            theirs = c.predict(question=other_q, library=lib, api_name="/ask")
            out.append((mine, theirs))
        return name, out

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(visitor, ["a", "b"]))
    for name, rounds in results:
        other = "bees.md" if name == "ferry.md" else "ferry.md"
        for mine, theirs in rounds:
            assert mine["citations"][0]["source"] == f"uploads/{name}"
            assert all(c["source"] != f"uploads/{other}" for c in mine["citations"] + theirs["citations"])
