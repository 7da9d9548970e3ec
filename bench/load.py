"""Many chat users at once, through the real API of a launched ``app.py``; stops by itself.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/load.py [--users 50] [--seconds 120] [--warmup 15]

Starts ``python app.py`` on 127.0.0.1 (a free port), then, in one run:

1. the in-process ceiling: ``bot.ask`` p50 over the question list in this process, and
   ``cores ÷ p50`` answers per second;
2. one user through ``gradio_client`` (``/ask``), one question at a time: p50;
3. ``--users`` users, each with its own ``gradio_client.Client``, asking for ``--seconds``: a mix of
   first questions and follow-ups (the previous answer as history), and one small upload per user
   to a private library that its later questions use (and that must never show in anyone's answers
   without its token). Requests served, errors (by kind), p50 / p95 /
   p99 latency, throughput, and the server's resident memory at start, after ``--warmup`` seconds of
   load and at the end.

It prints the targets of what the server controls (issue 26): no errors; the serving overhead, the
server's CPU per answer ÷ the CPU per answer of the same question mix in one process (≤ 1.3); memory at
the end within 10% of after warm-up; and, after the load, the seconds from SIGTERM to exit (≤ 5). The
soak of the issue: ``--users 30 --seconds 600 --warmup 60``.

``--noop`` serves, in place of ``app.py``, an ``/ask`` that returns a stored answer at once (the bot's own
answer to the first question, as JSON of the same size as every answer), behind the same queue settings:
what the framework and the simulated users cost with no question to answer, the floor under every figure
above.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

QUESTIONS = [
    "How many industrial robots did China install?", "What share of the world's AI data centers are in the US?",
    "Which Chinese labs release open-weight models?", "How fast is China adding electricity capacity?",
    "What did US officials expect Huawei to produce?", "Why does Musk think China will lead in AI compute?",
    "What is the state of the AI race between the US and China?", "How many AI data centers does China have?",
    "What are the US export controls on chips?", "Who leads in frontier AI models?",
]
FOLLOW_UPS = ["And China's?", "What about the US?", "Why is that?", "How many exactly?"]
FOLLOW_UP_SHARE = 0.3  # of the questions a user asks after a first one
UPLOAD = "# Harbour notes\n\nThe harbour of Velmora has 14 berths. Ferries to the islands leave at 7 and 19 o'clock.\n"
UPLOAD_QUESTION = "How many berths does the harbour of Velmora have?"


def rss_mb(pid: int) -> float:
    """Resident memory of the server and its children (the question encoder runs in one)."""
    total, found = 0.0, False
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if int(status.parent.name) == pid or fields.get("PPid", "").strip() == str(pid):
            total += int(fields.get("VmRSS", "0 kB").split()[0]) / 1024
            found = True
    return total if found else float("nan")


def server_pid() -> int:
    """The ``app.py`` this process launched (a child of ours)."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            ppid = next(int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith("PPid:"))
            cmdline = (status.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, StopIteration):
            continue
        if ppid == os.getpid() and b"app.py" in cmdline:
            return int(status.parent.name)
    raise RuntimeError("cannot find the launched app.py")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def follow_up_history(last: tuple[str, str]) -> list[dict]:
    """The chat so far, for a follow-up to the question and answer in ``last``."""
    return [{"role": "user", "content": last[0]}, {"role": "assistant", "content": last[1]}]


def in_process(n: int = 100) -> tuple[float, float, dict]:
    """In this process: ``bot.ask``'s p50 over first questions (the ceiling's), the CPU time per answer
    of the users' own mix (follow-ups as often as ``User`` asks them), and the answer to the first
    question (the noop server returns it)."""
    from qa import Bot

    bot = Bot.load(on_status=lambda m: None)
    for q in QUESTIONS:
        bot.ask(q)  # warm
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        bot.ask(QUESTIONS[i % len(QUESTIONS)])
        times.append(time.perf_counter() - t0)
    # The CPU time of one pass varies from run to run by a fifth (the question encoder's threads wait by
    # spinning): the median of three passes.
    passes = []
    for seed in range(3):
        rng, last, cpu = random.Random(seed), None, time.process_time()
        for _ in range(2 * n):
            if last is not None and rng.random() < FOLLOW_UP_SHARE:
                bot.ask(rng.choice(FOLLOW_UPS), history=follow_up_history(last)).to_dict()
            else:
                q = rng.choice(QUESTIONS)
                last = (q, bot.ask(q).to_dict()["text"])
        passes.append((time.process_time() - cpu) / (2 * n))
    print(f"in-process CPU per answer of the mix, three passes: {', '.join(f'{c * 1000:.1f}' for c in passes)} ms", flush=True)
    return statistics.median(times), statistics.median(passes), bot.ask(QUESTIONS[0]).to_dict()


NOOP_APP = """
import json
import gradio as gr
from qa.serve.chat import CONCURRENCY, QUEUE_SIZE, STATUS_EVERY
from qa.serve.server import tune_for_serving

tune_for_serving()
STORED = json.load(open("answer.json", encoding="utf-8"))
with gr.Blocks() as demo:
    def ask(question: str, history: list | None = None, k: int = 5, library: str = "") -> dict:
        return STORED

    gr.api(ask, api_name="ask", concurrency_limit=CONCURRENCY, concurrency_id="qa")
demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE, status_update_rate=STATUS_EVERY)
demo.launch()
"""


class User(threading.Thread):
    def __init__(self, url: str, n: int, deadline: float, upload: Path | None, results: list, errors: Counter) -> None:
        super().__init__(daemon=True)
        self.url, self.n, self.deadline, self.upload = url, n, deadline, upload
        self.results, self.errors = results, errors
        self.rng = random.Random(n)

    def run(self) -> None:
        from gradio_client import Client, handle_file

        try:
            client = Client(self.url, verbose=False, ssl_verify=False)  # plain http on loopback: no TLS to verify
        except Exception as err:  # noqa: BLE001
            self.errors[f"connect: {type(err).__name__}"] += 1
            return
        library, last, checked = "", None, False  # checked: the upload was asked about once
        while time.time() < self.deadline:
            kind = "ask"
            try:
                t0 = time.perf_counter()
                if self.upload is not None and not library:
                    kind = "upload"
                    out = client.predict(files=[handle_file(str(self.upload))], library="", api_name="/upload")
                    if not out["added"]:
                        raise AssertionError(f"upload refused: {out['warnings']}")
                    library = out["library"]
                elif library and (not checked or self.rng.random() < 0.1):
                    checked = True
                    kind = "ask-library"
                    out = client.predict(question=UPLOAD_QUESTION, library=library, api_name="/ask")
                    first = out["citations"][0] if out["citations"] else {}
                    if "14" not in first.get("highlight", ""):
                        raise AssertionError(f"the upload's answer is missing: {first.get('source')}")
                elif last is not None and self.rng.random() < FOLLOW_UP_SHARE:
                    kind = "follow-up"
                    out = client.predict(question=self.rng.choice(FOLLOW_UPS), history=follow_up_history(last), api_name="/ask")
                else:
                    q = self.rng.choice(QUESTIONS)
                    out = client.predict(question=q, api_name="/ask")
                    last = (q, out["text"])
                if kind in ("ask", "follow-up") and any(c["source"].startswith("uploads/") for c in out["citations"]):
                    raise AssertionError("a visitor's upload appeared in a shared answer")
                self.results.append((kind, time.perf_counter() - t0, time.time()))
            except Exception as err:  # noqa: BLE001
                self.errors[f"{kind}: {type(err).__name__}: {str(err)[:80]}"] += 1
                time.sleep(0.2)
        try:
            client.close()
        except Exception:  # noqa: BLE001
            pass


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--seconds", type=float, default=120)
    p.add_argument("--warmup", type=float, default=15, help="seconds of load before the 'after warm-up' memory reading")
    p.add_argument("--single", type=int, default=30, help="sequential requests for the single-user p50")
    p.add_argument("--no-upload", action="store_true", help="users do not upload a file")
    p.add_argument("--noop", action="store_true", help="serve an /ask that returns a stored answer, behind the same queue")
    a = p.parse_args()

    from gradio_client import Client

    from tests.conftest import served_app

    cores = os.cpu_count() or 1
    ceiling_p50, mix_cpu, stored = in_process()
    ceiling = cores / ceiling_p50
    print(f"in-process bot.ask p50 {ceiling_p50 * 1000:.1f} ms → ceiling {ceiling:.0f} answers/s on {cores} cores; "
          f"CPU per answer of the users' mix ({FOLLOW_UP_SHARE:.0%} follow-ups): {mix_cpu * 1000:.1f} ms", flush=True)

    upload, cwd = None, ROOT
    if a.noop:
        cwd = Path(tempfile.mkdtemp(prefix="qa-noop-"))
        (cwd / "app.py").write_text(NOOP_APP, encoding="utf-8")
        (cwd / "answer.json").write_text(json.dumps(stored), encoding="utf-8")
    elif not a.no_upload:
        upload = Path(tempfile.mkdtemp(prefix="qa-load-")) / "harbour.md"
        upload.write_text(UPLOAD, encoding="utf-8")
    with served_app(cwd=cwd) as (url, log, proc):
        pid = server_pid()
        one = Client(url, verbose=False, ssl_verify=False)
        for q in QUESTIONS[:3]:
            one.predict(question=q, api_name="/ask")  # warm
        single = []
        for i in range(a.single):
            t0 = time.perf_counter()
            one.predict(question=QUESTIONS[i % len(QUESTIONS)], api_name="/ask")
            single.append(time.perf_counter() - t0)
        single_p50 = statistics.median(single)
        print(f"single user through /ask: p50 {single_p50 * 1000:.0f} ms", flush=True)
        mem_start = rss_mb(pid)

        results: list = []
        errors: Counter = Counter()
        cpu_server, cpu_client = cpu_seconds(pid), cpu_seconds(os.getpid())
        start = time.time()
        deadline = start + a.seconds
        users = [User(url, n, deadline, upload, results, errors) for n in range(a.users)]
        for u in users:
            u.start()
        time.sleep(min(a.warmup, a.seconds))
        mem_warm = rss_mb(pid)
        for u in users:
            u.join(timeout=a.seconds + 120)  # bounded: a user stops at the deadline, a stuck call times out
        elapsed = time.time() - start
        mem_end = rss_mb(pid)
        cpu_server, cpu_client = cpu_seconds(pid) - cpu_server, cpu_seconds(os.getpid()) - cpu_client
        alive = sum(u.is_alive() for u in users)
        t0 = time.perf_counter()
        proc.send_signal(signal.SIGTERM)  # as a Space restart or a container runtime stops it
        try:
            proc.wait(timeout=60)
            exit_s = time.perf_counter() - t0
        except subprocess.TimeoutExpired:
            exit_s = float("inf")

    asks = [t for kind, t, _ in results if kind != "upload"]
    served = len(results)
    rate = len(asks) / elapsed
    p50, p95, p99 = (pct(asks, q) for q in (50, 95, 99))
    kinds = Counter(kind for kind, _, _ in results)
    print(f"\n#### Load: {a.users} users for {a.seconds:.0f} s through gradio_client\n")
    print("| requests served | of which | errors | p50 | p95 | p99 | answers / s | memory start → warm → end (MB) |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {served:,} | {', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))} | {sum(errors.values())} | "
          f"{p50 * 1000:.0f} ms | {p95 * 1000:.0f} ms | {p99 * 1000:.0f} ms | {rate:.1f} | "
          f"{mem_start:.0f} → {mem_warm:.0f} → {mem_end:.0f} |")
    print(f"\nCPU over {elapsed:.0f} s on {cores} cores: server {cpu_server:.0f} s ({cpu_server / elapsed / cores:.0%} of the machine), "
          f"the simulated users {cpu_client:.0f} s ({cpu_client / elapsed / cores:.0%}); per answer: server "
          f"{cpu_server / max(1, served) * 1000:.0f} ms, client {cpu_client / max(1, served) * 1000:.0f} ms")
    per_answer = (cpu_server + cpu_client) / max(1, served)
    print(f"{cores} cores at full use, at this CPU per answer ({per_answer * 1000:.0f} ms, server and users), serve at most "
          f"{cores / per_answer:.0f} answers/s: {cores / per_answer / ceiling:.0%} of the ceiling")
    for e, n in errors.most_common(10):
        print(f"  error ×{n}: {e}")
    if alive:
        print(f"  {alive} user thread(s) still waiting at the end")
    # What the server controls (issue 26): the users share its two cores, so latency ratios say more
    # about them than about it. Its CPU per answer against the same mix answered in one process does not.
    overhead = cpu_server / max(1, len(asks)) / mix_cpu
    print(f"serving overhead: server CPU per answer {cpu_server / max(1, len(asks)) * 1000:.1f} ms ÷ in-process "
          f"{mix_cpu * 1000:.1f} ms = {overhead:.2f}; exit after SIGTERM {exit_s:.2f} s")
    checks = [
        ("no errors", sum(errors.values()) == 0, f"{sum(errors.values())} errors"),
        ("serving overhead (server CPU per answer ÷ in-process) ≤ 1.3", overhead <= 1.3, f"{overhead:.2f}"),
        ("memory at end within 10% of after warm-up", mem_end <= 1.1 * mem_warm, f"{(mem_end / mem_warm - 1):+.1%}"),
        ("exit ≤ 5 s after SIGTERM at the end", exit_s <= 5, f"{exit_s:.2f} s"),
        ("p95 ≤ 10 × single-user p50 (the users share the cores)", p95 <= 10 * single_p50, f"{p95 / single_p50:.1f} ×"),
    ]
    print("\n| target | met | measured |\n|---|---|---|")
    for name, ok, value in checks:
        print(f"| {name} | {'yes' if ok else 'NO'} | {value} |")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
