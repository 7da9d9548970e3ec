"""A local GGUF model runs in a child process that qa owns (issue 26): its crash, kill or hang costs one line
and the quoted answer, never the server; the next question starts it again, once. The real SmolLM2 model,
the real llama-cpp-python server, real signals."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from qa.answer.models import LLMError, LLMSettings, LocalGGUF
from qa.answer.writer import Writer

from ..conftest import served_app
from .test_llm import GGUF, QUESTION, needs_model

psutil = pytest.importorskip("psutil")


def _busy(pid: int, within: float = 60.0) -> None:
    """Returns once the model process is computing (writing an answer): its CPU time rises."""
    proc = psutil.Process(pid)
    start = sum(proc.cpu_times()[:2])
    deadline = time.monotonic() + within
    while sum(proc.cpu_times()[:2]) - start < 0.1:
        assert time.monotonic() < deadline, "the model process never started writing"
        time.sleep(0.02)


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def model():
    m = LocalGGUF(LLMSettings(target=str(GGUF), max_tokens=200, context=2048, timeout=45))
    yield m
    m.close()


def _write_while(bot, pid: int, sig: int):
    """Ask; once the model is writing, send it ``sig``; return the answer the bot gave."""
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("answer", bot.ask(QUESTION)))
    t.start()
    _busy(pid)
    os.kill(pid, sig)
    t.join(timeout=60)
    assert not t.is_alive()
    return result["answer"]


@needs_model
@pytest.mark.parametrize("sig, words", [(signal.SIGKILL, "SIGKILL"), (signal.SIGILL, "SIGILL")])
def test_a_model_process_killed_mid_answer_gives_one_line_and_the_quoted_answer_then_restarts(shipped_bot, model, sig, words):
    bot = shipped_bot.session()
    bot.writer = Writer(model, max_tokens=200)
    first = model.pid
    answer = _write_while(bot, first, sig)
    assert words in answer.notice and "starts again with the next question" in answer.notice
    assert "quoted from the documents" in answer.notice and "\n" not in answer.notice
    assert not answer.generated and "276,000" in answer.text and answer.citations  # the quoted answer
    if sig == signal.SIGILL:
        assert "built for another CPU" in answer.notice
    again = bot.ask(QUESTION)  # the next question starts the model again
    assert model.pid not in (None, first) and "stopped" not in again.notice
    assert again.model == model.name and again.citations


@needs_model
def test_a_model_that_never_answers_is_stopped_after_the_timeout_and_restarted(shipped_bot, model):
    bot = shipped_bot.session()
    bot.writer = Writer(model, max_tokens=64)
    hung = model.pid
    os.kill(hung, signal.SIGSTOP)
    t0 = time.monotonic()
    answer = bot.ask(QUESTION)
    assert time.monotonic() - t0 < 90
    assert "sent nothing for 45 s" in answer.notice and "276,000" in answer.text
    assert _gone(hung)  # the hung process was stopped, not left holding its memory
    again = bot.ask(QUESTION)
    assert model.pid not in (None, hung) and "sent nothing" not in again.notice and again.model == model.name


@needs_model
def test_a_model_that_dies_again_after_its_restart_stays_off_no_restart_loop(model):
    messages = [{"role": "user", "content": "Write a long story about a cat."}]
    first = model.pid
    stream = model.stream(messages, 200)
    next(stream)
    os.kill(first, signal.SIGKILL)  # dies while writing: the next question starts it again
    with pytest.raises(LLMError, match="starts again with the next question"):
        list(stream)
    failures: list[str] = []

    def ask() -> None:
        try:
            list(model.stream(messages, 200))
        except LLMError as err:
            failures.append(str(err))

    t = threading.Thread(target=ask)
    t.start()
    deadline = time.monotonic() + 60
    while model.pid in (None, first):  # the restart
        assert time.monotonic() < deadline and t.is_alive()
        time.sleep(0.01)
    second = model.pid
    os.kill(second, signal.SIGKILL)  # and it dies again before answering anything
    t.join(timeout=120)
    assert failures and _gone(second)
    for _ in range(2):  # from now on: one line, the quoted answer, and no third process
        with pytest.raises(LLMError):
            list(model.stream(messages, 10))
        assert model.pid is None


@needs_model
def test_the_model_process_goes_with_the_server_that_started_it(tmp_path):
    """A chat server killed outright (kill -9) leaves no model process behind holding memory and a port."""
    import subprocess
    import sys

    script = tmp_path / "owner.py"
    script.write_text("import sys, time\nfrom qa.answer.models import LocalGGUF, LLMSettings\n"
                      f"m = LocalGGUF(LLMSettings(target={str(GGUF)!r}, context=1024))\n"
                      "print(m.pid, flush=True)\ntime.sleep(600)\n")
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        child = int(owner.stdout.readline())
        assert psutil.pid_exists(child)
        owner.kill()
        owner.wait(timeout=10)
        assert _gone(child, within=15)
    finally:
        owner.kill()


@needs_model
def test_the_app_keeps_answering_through_a_model_crash_a_sigill_and_a_hang(tmp_path):
    """The launched app with a local model: after a kill -9 mid-answer, an illegal instruction and a model
    that never answers, each question gets the quoted answer with one line, and the next one is written
    again. Then SIGTERM stops the server and its model within 5 s."""
    from gradio_client import Client

    env = {"QA_LLM": str(GGUF), "QA_LLM_TIMEOUT": "45"}
    with served_app(extra_env=env) as (url, log, proc):
        client = Client(url, verbose=False)

        def model_pid() -> int:
            kids = [p for p in psutil.Process(proc.pid).children() if "gguf_server" in " ".join(p.cmdline())]
            assert len(kids) == 1, [p.cmdline() for p in kids]
            return kids[0].pid

        first = client.predict(question=QUESTION, api_name="/ask")  # the model loads with the bot
        assert first["model"] and "stopped" not in first["notice"]
        for sig, expect in [(signal.SIGKILL, "SIGKILL"), (signal.SIGILL, "SIGILL"), (signal.SIGSTOP, "sent nothing for 45 s")]:
            pid = model_pid()
            job = client.submit(question=QUESTION, api_name="/ask")
            _busy(pid)
            os.kill(pid, sig)
            d = job.result(timeout=180)
            assert expect in d["notice"] and "quoted from the documents" in d["notice"], d["notice"]
            assert d["citations"] and "276,000" in d["text"]
            again = client.predict(question=QUESTION, api_name="/ask")
            assert again["model"] and "stopped" not in again["notice"] and "sent nothing" not in again["notice"]
            assert model_pid() != pid
        last = model_pid()
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        assert time.monotonic() - t0 < 5
        assert _gone(last)
        assert "Traceback" not in log.read_text()


@needs_model
def test_a_model_that_cannot_start_leaves_the_chat_quoting_the_documents(tmp_path):
    """A language model file that does not load is reported once; the chat still answers, quoting."""
    from gradio_client import Client

    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    with served_app(extra_env={"QA_LLM": str(broken)}) as (url, log, _):
        d = Client(url, verbose=False).predict(question=QUESTION, api_name="/ask")
        assert "276,000" in d["text"] and d["citations"] and not d["model"]
        text = log.read_text()
        assert text.count("Serving without the language model: Cannot load the language model") == 1
        assert "Traceback" not in text


@needs_model
def test_the_model_process_answers_only_qa_on_loopback_whatever_the_environment_says(monkeypatch):
    """Bound to 127.0.0.1 behind a random key that is not on its command line (which other users can read),
    even where a hosting platform sets HOST and PORT, and reached directly where an HTTP proxy is set."""
    import urllib.error
    import urllib.request

    for name, value in {"HOST": "0.0.0.0", "PORT": "9", "HTTP_PROXY": "http://127.0.0.1:9",
                        "HTTPS_PROXY": "http://127.0.0.1:9", "ALL_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}.items():
        monkeypatch.setenv(name, value)
    model = LocalGGUF(LLMSettings(target=str(GGUF), max_tokens=8, context=1024, timeout=20))
    try:
        proc = psutil.Process(model.pid)
        listening = [c.laddr for c in proc.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]
        assert listening and all(a.ip == "127.0.0.1" and a.port != 9 for a in listening)
        key = model._client.settings.api_key
        assert key and not any(key in part for part in proc.cmdline())
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with pytest.raises(urllib.error.HTTPError) as err:
            direct.open(f"http://127.0.0.1:{listening[0].port}/v1/models", timeout=10)
        assert err.value.code == 401
        assert "".join(model.stream([{"role": "user", "content": "Say hello."}], 8))  # through the proxy-free client
    finally:
        model.close()
    assert _gone(proc.pid) and model.pid is None
    with pytest.raises(LLMError, match="stopped with the server"):  # closed for good: nothing starts again
        list(model.stream([{"role": "user", "content": "Say hello."}], 8))
    assert model.pid is None
