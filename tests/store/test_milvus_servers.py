"""Milvus servers started by the test, as separate processes on 127.0.0.1 (issue 26):

- an older Milvus (2.3.5, the `milvus` package's real standalone server) is refused in one line naming its
  version and the minimum, before anything is created on it;
- a server that goes away in the middle of a conversation (Milvus Lite's own gRPC server, `milvus-lite
  server`, killed with SIGKILL) costs that question one line; the chat stays up and answers again once
  the server is back.

The 2.3.5 server cannot hold a qa index (no full-text BM25 before 2.5), so the conversation runs on the
newer engine that PyPI ships as a server.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa.errors import QAError

from ..conftest import ROOT, free_port, served_app

pytest.importorskip("pymilvus")
BIN = Path(sys.executable).parent
QUESTION = "How many industrial robots did China install?"


def _wait_for(url: str, proc: subprocess.Popen, log: Path, within: float = 180.0) -> None:
    from pymilvus import MilvusClient

    deadline = time.monotonic() + within
    while True:
        assert proc.poll() is None, f"the Milvus server exited with {proc.returncode}: {log.read_text()[-2000:]}"
        try:
            MilvusClient(uri=url, timeout=2).get_server_version()
            return
        except Exception:  # noqa: BLE001 - not up yet
            assert time.monotonic() < deadline, f"no Milvus at {url} after {within:.0f} s: {log.read_text()[-2000:]}"
            time.sleep(1)


@contextlib.contextmanager
def _server(args: list[str], url: str, log: Path):
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for(url, proc, log)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def old_milvus(tmp_path_factory):
    """Milvus 2.3.5 standalone (`milvus-server` of the `milvus` package), every port it lets us choose free.
    Its gRPC services listen on every interface (2.3 has no setting for that); the test reaches it over 127.0.0.1."""
    exe = BIN / "milvus-server"
    if not exe.exists():
        pytest.skip("needs the milvus package (make test installs it): pip install milvus==2.3.5")
    folder = tmp_path_factory.mktemp("milvus235")
    port = free_port()
    ports = {f"--{name}-port": str(free_port()) for name in ("etcd", "root-coord", "proxy-internal", "query-coord",
                                                              "query-node", "index-coord", "index-node", "data-coord", "data-node")}
    args = [str(exe), "--data", str(folder / "data"), "--proxy-port", str(port), *[x for kv in ports.items() for x in kv]]
    url = f"http://127.0.0.1:{port}"
    with _server(args, url, folder / "server.log"):
        yield url


def _collections(url: str) -> list[str]:
    from pymilvus import MilvusClient

    return MilvusClient(uri=url).list_collections()


def test_an_older_milvus_server_is_refused_in_one_line_and_nothing_is_left_behind(old_milvus, tmp_path):
    from qa import Bot

    with pytest.raises(QAError) as err:
        Bot.load(milvus_uri=old_milvus)
    message = str(err.value)
    assert "runs v2.3.5" in message and "needs Milvus 2.5.0 or newer" in message and "\n" not in message
    assert _collections(old_milvus) == []  # nothing half-made
    out = subprocess.run([sys.executable, "-m", "qa", "ask", QUESTION, "--milvus-uri", old_milvus], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert out.returncode != 0 and "runs v2.3.5" in out.stderr and "Traceback" not in out.stderr
    assert _collections(old_milvus) == []


def test_the_chat_on_an_older_milvus_says_why_it_cannot_answer_and_stays_up(old_milvus):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    with served_app(extra_env={"QA_MILVUS_URI": old_milvus}) as (url, log, proc):
        with pytest.raises(AppError, match=r"runs v2\.3\.5\S*; qa needs Milvus 2\.5\.0 or newer"):
            Client(url, verbose=False).predict(question=QUESTION, api_name="/ask")
        assert proc.poll() is None and "Traceback" not in log.read_text()
    assert _collections(old_milvus) == []


def test_a_milvus_server_that_goes_away_mid_conversation_costs_one_line_and_the_chat_stays_up(tmp_path):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [str(BIN / "milvus-lite"), "server", "--data-dir", str(tmp_path / "milvus"), "--host", "127.0.0.1", "--port", str(port)]
    log = tmp_path / "milvus.log"
    with _server(args, url, log) as server, served_app(extra_env={"QA_MILVUS_URI": url}) as (app, app_log, app_proc):
        client = Client(app, verbose=False)
        first = client.predict(question=QUESTION, api_name="/ask")
        assert "276,000" in first["citations"][0]["highlight"]
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        with pytest.raises(AppError) as err:
            client.predict(question="What is the Big Fund?", history=[{"role": "user", "content": QUESTION},
                                                                      {"role": "assistant", "content": first["text"]}],
                           api_name="/ask")
        message = str(err.value)
        assert f"The Milvus server at {url} did not answer" in message and "Ask again once it is back" in message
        assert len(message.strip().splitlines()) == 1
        assert app_proc.poll() is None  # the chat is still up
        with _server(args, url, log):  # the server is back, with its data: the next question is answered
            again = client.predict(question=QUESTION, api_name="/ask")
            assert "276,000" in again["citations"][0]["highlight"]
        assert "Traceback" not in app_log.read_text()
