"""Build an index on a Ray cluster: reading, chunking and embedding spread over its nodes.

Embedding is nearly all of a build's time (a million passages: about six hours on two cores), and each
document's share of it is independent of every other's. So each document becomes its segment
(``segments.make_segments``: passages, sentences, vectors, BM25 terms) in a Ray Data actor, one per node,
each loading the model once; the driver only lists and hashes the files, ships their bytes, and assembles
the segments into an index exactly as a local build does (``segments.assemble``), to be saved or served
like any other.

A build that is stopped resumes: each finished segment is written to a cache folder beside the index as it
arrives (keyed by the file's hash, the settings and the model), and the next build embeds only the files
not there. The cache is removed once the index is saved.

    qa index FOLDER --ray auto              # a cluster started on this machine with `ray start --head`
    qa index FOLDER --ray 10.0.0.5:6379     # any cluster; every node needs `pip install "qa[ray]"` and the model
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from qa.errors import QAError
from qa.ingest import Limits, MissingLibrary, UnreadableFile, file_bytes, parse
from qa.ingest.documents import nothing_readable, reported
from qa.store.freshness import file_hashes, note_skipped
from qa.store.record import Index, IndexSettings
from qa.store.segments import Segment, assemble, make_segments

log = logging.getLogger(__name__)

NO_RAY = "A build on a Ray cluster needs Ray: run `pip install \"qa[ray]\"` (on every node of the cluster too)."
FILES_PER_TASK = 4  # documents per actor call: small enough to spread a few large files, large enough to batch the encoder


def address_from(argument: str | None) -> str | None:
    """The cluster to build on: the argument, else ``QA_RAY_ADDRESS``; None for a local build."""
    chosen = (argument if argument is not None else os.environ.get("QA_RAY_ADDRESS", "")).strip()
    return chosen or None


class _SegmentMaker:
    """A Ray Data actor: loads the model once, then turns each batch of files into segments."""

    def __init__(self, settings: IndexSettings) -> None:
        from qa.embed.embedder import Embedder

        t = time.perf_counter()
        self.settings = settings
        self.embedder = Embedder(settings.model)
        self.loading = time.perf_counter() - t  # reported with the first batch: what a node pays once

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        docs, errors = [], []
        for source, data in zip(batch["source"], batch["data"]):
            try:
                docs.append(parse(bytes(data), str(source), Limits()))
                errors.append(b"")
            except MissingLibrary as err:  # the worker's environment: said once, never remembered
                docs.append(None)
                errors.append(pickle.dumps(("library", err.source, err.kind, err.package, err.detail)))
            except UnreadableFile as err:
                docs.append(None)
                errors.append(pickle.dumps(("file", err.source, err.problem, err.fix)))
        # One encoder call for the batch's documents together, as a local build batches them all.
        made = iter(make_segments([d for d in docs if d is not None], self.settings, self.embedder.encode))
        segments = [pickle.dumps(next(made)) if d is not None else b"" for d in docs]
        loading, self.loading = self.loading, 0.0
        return {"source": batch["source"], "segment": np.array(segments, dtype=object), "error": np.array(errors, dtype=object),
                "loading": np.full(len(segments), loading / max(1, len(segments)))}


def _error(fields: tuple) -> UnreadableFile:
    return MissingLibrary(*fields[1:]) if fields[0] == "library" else UnreadableFile(*fields[1:])


def _key(source: str, sha: str, settings: IndexSettings) -> str:
    fingerprint = json.dumps([source, sha, settings.to_dict()], sort_keys=True, default=str)
    return hashlib.sha256(fingerprint.encode()).hexdigest()[:32]


def _connect(address: str) -> None:
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data is the part this needs
    except ImportError as err:
        raise QAError(NO_RAY) from err
    if ray.is_initialized():
        raise QAError("This Python is already connected to a Ray cluster: build from a fresh process (`qa index --ray …`).")
    _reachable(address)
    # The workers read nothing from the hub either, and run with the driver's qa settings.
    env = {k: v for k, v in os.environ.items() if k.startswith(("QA_", "HF_", "TRANSFORMERS_", "SENTENCE_TRANSFORMERS_"))
           and not any(secret in k for secret in ("TOKEN", "KEY", "SECRET", "PASSWORD"))}  # a job's env is readable on the cluster
    try:
        ray.init(address=address, runtime_env={"env_vars": env}, logging_level=logging.ERROR, log_to_driver=False,
                 configure_logging=False)
    except Exception as err:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError…
        raise _unreachable(address, (str(err).splitlines() or [type(err).__name__])[0][:200]) from err


def _reachable(address: str, within: float = 10.0) -> None:
    """A host:port address answers on TCP (Ray itself would retry for minutes before giving up)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", or a form Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=within).close()
    except OSError as err:
        raise _unreachable(address, str(err.strerror or err)) from err


def _unreachable(address: str, why: str) -> QAError:
    return QAError(f"Cannot reach the Ray cluster at {address} ({why}): start one with `ray start --head`, "
                   "or check the address (QA_RAY_ADDRESS).")


def _nodes() -> int:
    import ray

    return max(1, sum(1 for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) >= 1))


def build_on_ray(corpus: str | Path, settings: IndexSettings, address: str, cache: Path,
                 say: Callable[[str], None] = log.info, progress: bool = True, workers: int | None = None) -> Index:
    """The index of ``corpus``, its documents made into segments on the Ray cluster at ``address``.

    ``cache``: where finished segments wait until the index is saved (a stopped build resumes from them).
    ``workers``: actors to run (default: one per node with a CPU); each loads the model once.
    """
    t0 = time.perf_counter()
    root = Path(corpus)
    others: list[Path] = []
    hashes = file_hashes(root, others)
    cache.mkdir(parents=True, exist_ok=True)
    keys = {source: _key(source, sha, settings) for source, sha in hashes.items()}  # the files just hashed, no second walk
    done = {source: entry for source, key in keys.items() if (entry := _cached(cache / f"{key}.pkl")) is not None}
    todo = [root / source for source in sorted(keys) if source not in done]
    if done:
        say(f"Resuming: {len(done)} of {len(keys)} documents were made into segments by an earlier build.")
    missing: list[UnreadableFile] = []
    made, timing = 0, {"seconds": 0.0, "loading": 0.0}
    if todo:
        missing, made = _make_on_ray(root, todo, settings, address, cache, keys, say, progress, workers, timing)
    segments: list[Segment] = []
    skipped: list[UnreadableFile] = list(missing)
    for source, key in sorted(keys.items()):
        entry = done.get(source) or _cached(cache / f"{key}.pkl")  # read once: earlier, or made just now
        if entry is None:
            continue  # its library is missing on a worker: in ``missing``
        kind, payload = entry
        if kind == "segment":
            payload.sha = hashes.get(source, payload.sha)
            segments.append(payload)
        else:
            skipped.append(_error(payload))
    warnings = reported(skipped, others)
    if not segments:
        raise nothing_readable(root)
    dim = next((s.chunk_vectors.shape[1] for s in segments if len(s.chunk_vectors)), 0)
    index = assemble(segments, settings, dim, warnings, t0, embedded=made)
    index.manifest.update({"built_on": f"ray {address}", "ray_seconds": round(timing["seconds"], 3),
                           "ray_startup_seconds": round(timing["loading"], 3)})
    note_skipped(index, hashes)
    return index


def _make_on_ray(root: Path, todo: list[Path], settings: IndexSettings, address: str, cache: Path, keys: dict[str, str],
                 say: Callable[[str], None], progress: bool, workers: int | None, timing: dict[str, float]
                 ) -> tuple[list[UnreadableFile], int]:
    """Segments of ``todo`` made on the cluster, each written to ``cache`` as it arrives; returns the files
    a worker lacked a library for, and how many documents were embedded. ``timing`` gets the seconds on the
    cluster, and the longest a worker took to load the model."""
    started = time.perf_counter()
    _connect(address)
    import ray
    import ray.data

    try:
        return _run(root, todo, settings, address, cache, keys, say, progress, workers, timing)
    except ray.exceptions.RayError as err:  # a worker failed: its cause, in one line
        cause = getattr(err, "cause", None) or err
        last = [line for line in str(cause).splitlines() if line.strip()][-1:] or [type(cause).__name__]
        raise QAError(f"A Ray worker failed ({last[0].strip()[:400]}): every node needs `pip install \"qa[ray]\"` and the "
                      "model; run the same command again to resume.") from err
    finally:
        ray.shutdown()
        timing["seconds"] = time.perf_counter() - started


def _run(root: Path, todo: list[Path], settings: IndexSettings, address: str, cache: Path, keys: dict[str, str],
         say: Callable[[str], None], progress: bool, workers: int | None, timing: dict[str, float]
         ) -> tuple[list[UnreadableFile], int]:
    import ray.data

    for name in ("ray", "ray.data"):  # a failure is said once, in qa's line, not in Ray's stack traces
        logging.getLogger(name).setLevel(logging.CRITICAL)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the CLI's own bar counts documents; Ray's would count blocks
    context.print_on_execution_start = False
    n = workers or _nodes()
    say(f"Building on the Ray cluster at {address}: {len(todo)} documents over {n} worker{'s' if n != 1 else ''}, "
        "each loading the model once …")
    items = []
    for p in todo:
        try:
            source, data = file_bytes(p, root)
            items.append({"source": source, "data": data})
        except UnreadableFile as err:  # empty, too large, unreadable: known before any worker sees it
            _keep(cache, keys[err.source], ("error", ("file", err.source, err.problem, err.fix)))
    if not items:
        return [], 0
    ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), n * 8)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Ray's deprecation notes are for Ray's users, not qa's
        made = ds.map_batches(_SegmentMaker, fn_constructor_kwargs={"settings": settings}, batch_size=FILES_PER_TASK,
                              concurrency=n, num_cpus=1, batch_format="numpy", scheduling_strategy="SPREAD")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(items), desc="Documents made into segments on Ray", unit="doc")
    missing: list[UnreadableFile] = []
    embedded = 0
    try:
        for batch in made.iter_batches(batch_size=None, batch_format="numpy"):
            for source, segment, error in zip(batch["source"], batch["segment"], batch["error"]):
                source = str(source)
                if segment:
                    entry = ("segment", pickle.loads(bytes(segment)))
                    embedded += 1
                else:
                    fields = pickle.loads(bytes(error))
                    if fields[0] == "library":
                        missing.append(_error(fields))  # not cached: once installed, the next build reads the file
                        continue
                    entry = ("error", fields)
                _keep(cache, keys[source], entry)
            timing["loading"] = max(timing["loading"], float(np.sum(batch["loading"])))
            if bar is not None:
                bar.update(len(batch["source"]))
    finally:
        if bar is not None:
            bar.close()
    return missing, embedded


def _keep(cache: Path, key: str, entry: tuple) -> None:
    tmp = cache / f".{key}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(pickle.dumps(entry))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, cache / f"{key}.pkl")  # a kill mid-write leaves no half segment


def _cached(path: Path) -> tuple | None:
    """A cached entry, or None when it is missing or unreadable (then it is made again)."""
    try:
        return pickle.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - truncated, or written by another version: made again
        path.unlink(missing_ok=True)
        return None


def clear_cache(cache: Path) -> None:
    """The segments waited for the save; once it is done they are the index's."""
    shutil.rmtree(cache, ignore_errors=True)


@contextlib.contextmanager
def local_cluster(workers: int = 1, cpus: int = 1, within: float = 120.0) -> Iterator[str]:
    """A Ray cluster on this machine, on 127.0.0.1: a head node that runs no work and ``workers`` worker
    nodes of ``cpus`` CPUs each, every one a separate process group; yields its address and stops it all.

    For trying a cluster build on one machine (the tests and ``bench/ray_build.py`` use it); a real cluster
    is started with ``ray start`` on each machine.
    """
    ray_bin = Path(sys.executable).with_name("ray")
    if not ray_bin.exists():
        raise QAError(NO_RAY)
    temp = Path(tempfile.mkdtemp(prefix="qa-ray-", dir="/tmp"))  # Ray's socket paths must stay short
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    port = _free_port()
    address = f"127.0.0.1:{port}"
    common = ["--node-ip-address", "127.0.0.1", "--disable-usage-stats", "--block"]
    procs: list[subprocess.Popen] = []
    logs: list[Path] = []

    def start(args: list[str]) -> None:
        ports = [_free_port() for _ in range(6)]
        logs.append(temp / f"node-{len(procs)}.log")
        with open(logs[-1], "ab") as log_file:
            procs.append(subprocess.Popen(
            [str(ray_bin), "start", *args, *common, "--node-manager-port", str(ports[0]), "--object-manager-port", str(ports[1]),
             "--dashboard-agent-listen-port", str(ports[2]), "--dashboard-agent-grpc-port", str(ports[3]),
             "--metrics-export-port", str(ports[4]), "--runtime-env-agent-port", str(ports[5])],
                stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True))

    try:
        start(["--head", "--port", str(port), "--num-cpus", "0", "--include-dashboard", "false", "--temp-dir", str(temp),
               "--ray-client-server-port", str(_free_port())])
        _wait_for_nodes(address, 1, procs, logs, within)
        for n in range(workers):  # one at a time: two raylets starting together on a small machine time out
            start(["--address", address, "--num-cpus", str(cpus)])
            _wait_for_nodes(address, 2 + n, procs, logs, within)
        yield address
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        shutil.rmtree(temp, ignore_errors=True)


def _tail(path: Path) -> str:
    """The last line of a node's log that says something."""
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()] if path.exists() else []
    return lines[-1][:300] if lines else "(no output)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_nodes(address: str, count: int, procs: list[subprocess.Popen], logs: list[Path], within: float) -> None:
    """Until ``count`` nodes are alive at ``address`` (asked in a child process: this one stays unconnected)."""
    probe = ("import ray, sys; ray.init(address=sys.argv[1], logging_level=40, log_to_driver=False); "
             "print(sum(1 for n in ray.nodes() if n['Alive']))")
    deadline = time.monotonic() + within
    while True:
        dead = [n for n, p in enumerate(procs) if p.poll() is not None]
        if dead:
            raise QAError(f"A Ray node exited with {procs[dead[0]].returncode} while the local cluster started: "
                          f"{_tail(logs[dead[0]])}")
        try:
            out = subprocess.run([sys.executable, "-c", probe, address], capture_output=True, text=True,
                                 timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            out = subprocess.CompletedProcess([], 1, "", "")
        if out.returncode == 0 and out.stdout.strip().isdigit() and int(out.stdout.strip()) >= count:
            return
        if time.monotonic() > deadline:
            raise QAError(f"The local Ray cluster at {address} did not have {count} nodes after {within:.0f} s.")
        time.sleep(1)
