"""The launched app (``python app.py``) through gradio_client, as API users meet it."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from qa.eval import contains

from .conftest import ROOT

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


def test_unanswerable_question_is_marked_abstained(client):
    ans = client.predict(question="Who won the 2018 FIFA World Cup?", api_name="/ask")
    assert ans["abstained"] and ans["text"].startswith("Not found in the corpus")


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
    assert "Building the index" not in log and "Embedding passages" not in log
