"""The broad zoo: every model of every registered source, built once, cached, with its aliases.

``hnn zoo build`` and :func:`build_zoo` run each entry of the chosen sources
(:mod:`hnn_tf.zoo.sources`) through three steps in worker processes: build the model with
random weights (:meth:`Source.build`), export it to ONNX without its weights
(:meth:`Source.export`), and build its graph IR (:func:`hnn_tf.graph.build_ir`: clean-up,
shapes, FLOPs, parameters). The canonical graph (:data:`hnn_tf.graph.recipes.RECIPES`
``"canonical"``, before merging) is made from the IR.

Caching (docs/design.md "The broad zoo"): per entry, a gzipped JSON record with the canonical
graph and a second file with the IR, under :func:`hnn_tf.zoo.dataset.cache_dir`
``/broad/<source>/``, each with the key it was made under:

- the IR's key hashes the source's module, its packages' versions, the converter modules
  its export runs (:attr:`Source.exporters`) and the graph builder's clean-up and shape code;
  when it changes, the entry is exported again;
- the graph's key hashes the rewrite rules and the IR's key; when only the rules changed, the
  graph is rebuilt from the stored IR in milliseconds, with no export;
- modules are hashed by their code (:func:`hnn_tf.zoo.dataset.code_digest`), so an edit to a
  docstring or a comment keeps every cached entry.

A model that fails is recorded with its one-line error (and whether the source documents it
as a known failure) and skipped, never dropped silently; a model over the parameter cap is
recorded with its count. Failures and skips are cached like graphs. A worker that crashes
(a native library's segfault) or exceeds the time limit fails only its own entry.

Aliases: entries whose canonical graphs are identical (``LayerGraph.fingerprint``) are one
architecture; :attr:`BroadZoo.architectures` keeps one representative per graph.
"""

from __future__ import annotations

import gzip
import importlib
import hashlib
import json
import os
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from hnn_tf.graph.layer_graph import LayerGraph
from hnn_tf.safe_io import atomic_write
from hnn_tf.zoo.sources import SOURCES, ZooEntry, get_source

__all__ = ["DEFAULT_MAX_PARAMS", "DEFAULT_SOURCES", "BroadZoo", "ZooRecord", "build_zoo", "load_zoo"]

#: The parameter cap of ``hnn zoo build`` (100 M).
DEFAULT_MAX_PARAMS = 100_000_000
#: The sources a default build reads (``paper`` is read through :mod:`hnn_tf.zoo.dataset`).
DEFAULT_SOURCES = ("torchvision", "timm", "transformers", "keras")
#: Seconds one entry may take (build, export and graph) before it is recorded as failed.
ENTRY_TIMEOUT_S = 300
#: Entries a worker process builds before it is replaced by a fresh one (bounds the memory the
#: model libraries keep; each new worker pays the imports of torch, timm and transformers, ~5 s,
#: and the first use of each library's model code).
TASKS_PER_WORKER = 400
#: Source order for choosing the representative of an alias group.
_SOURCE_ORDER = ("paper", "torchvision", "timm", "transformers", "keras")

_IR_MODULES = ("hnn_tf.graph.builder", "hnn_tf.graph.shapes", "hnn_tf.graph.propagate",
               "hnn_tf.graph.cost", "hnn_tf.graph.validate", "hnn_tf.zoo.sources.base",
               "hnn_tf.zoo.sources._torch")
_GRAPH_MODULES = ("hnn_tf.graph.rules", "hnn_tf.graph.rewrite", "hnn_tf.graph.recipes", "hnn_tf.graph.ir",
                  "hnn_tf.graph.layer_graph")


@dataclass
class ZooRecord:
    """One entry of the broad zoo after its build.

    Attributes:
        entry: the :class:`~hnn_tf.zoo.sources.ZooEntry`.
        status: ``"built"``, ``"failed"`` or ``"too-large"``.
        task: the entry's task (a transformers model's modality once built).
        params: parameter count (0 when the build failed before counting).
        notes: what the source changed to build it (shrunk configs).
        error: the one-line error of a failed entry.
        known: a failed entry's failure is documented by its source (:attr:`Source.known_failures`).
        seconds: wall time of each step: ``build``, ``export``, ``graph`` (ONNX -> canonical
            graph, what hashing the exported file costs) and ``ir``.
        graph: the canonical base graph (None unless built).
        alias_of: key of the representative entry with the identical graph, or None.
    """

    entry: ZooEntry
    status: str
    task: str = ""
    params: int = 0
    notes: str = ""
    error: str = ""
    known: bool = False
    seconds: dict = field(default_factory=dict)
    graph: LayerGraph | None = None
    alias_of: str | None = None

    @property
    def key(self) -> str:
        """``"<source>:<name>"``."""
        return self.entry.key

    def summary(self) -> dict:
        """JSON-ready facts (no graph): key, name, family, source, task, status, params, nodes, ..."""
        return {"key": self.key, "name": self.entry.name, "family": self.entry.family, "source": self.entry.source,
                "task": self.task or self.entry.task, "status": self.status, "params": self.params,
                "nodes": self.graph.num_nodes if self.graph is not None else None,
                "flops": int(self.graph.flops.sum()) if self.graph is not None else None,
                "alias_of": self.alias_of, "notes": self.notes, "error": self.error, "known": self.known,
                "seconds": self.seconds}


@dataclass
class BroadZoo:
    """The records of a broad-zoo build, in source then entry order.

    Attributes:
        records: every entry's :class:`ZooRecord`.
        wall_seconds: wall time of the build (0 when everything came from the cache).
        rebuilt: how many entries were exported this time (not read from the cache).
    """

    records: list[ZooRecord]
    wall_seconds: float = 0.0
    rebuilt: int = 0

    @property
    def built(self) -> list[ZooRecord]:
        """The records with a graph."""
        return [r for r in self.records if r.status == "built"]

    @property
    def architectures(self) -> list[ZooRecord]:
        """One record per distinct canonical graph (the representatives of the alias groups)."""
        return [r for r in self.built if r.alias_of is None]

    def families(self) -> Counter:
        """Family -> number of distinct architectures."""
        return Counter(r.entry.family for r in self.architectures)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per source: entries, built, architectures (distinct graphs), aliases, too-large,
        failed, failed-known, families."""
        out: dict[str, dict[str, int]] = {}
        for r in self.records:
            c = out.setdefault(r.entry.source, Counter())
            c["entries"] += 1
            c[r.status] += 1
            if r.status == "built":
                c["architectures" if r.alias_of is None else "aliases"] += 1
            if r.status == "failed" and r.known:
                c["failed-known"] += 1
        for source, c in out.items():
            c["families"] = len({r.entry.family for r in self.architectures if r.entry.source == source})
        return {s: {k: int(c.get(k, 0)) for k in ("entries", "built", "architectures", "aliases", "too-large",
                                                  "failed", "failed-known", "families")} for s, c in out.items()}


# --------------------------------------------------------------------------- keys and cache

def _module_digest(names: Iterable[str]) -> str:
    from hnn_tf.zoo.dataset import modules_digest

    return modules_digest(names)[:16]


def _versions(packages: Iterable[str]) -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for p in packages:
        try:
            out.append(f"{p}={version(p)}")
        except PackageNotFoundError:
            out.append(f"{p}=none")
    return ",".join(out)


def ir_key(source: str) -> str:
    """The key under which a source's IRs stay valid (see the module doc)."""
    src = get_source(source)
    h = hashlib.sha256()
    h.update(_module_digest((*_IR_MODULES, *src.exporters, type(src).__module__)).encode())
    h.update(_versions(src.packages).encode())
    return h.hexdigest()[:16]


def graph_key(ir: str) -> str:
    """The key under which a canonical graph made from an IR of key ``ir`` stays valid."""
    return hashlib.sha256(f"{ir}|{_module_digest(_GRAPH_MODULES)}".encode()).hexdigest()[:16]


def zoo_dir() -> Path:
    """The broad zoo's cache folder: :func:`hnn_tf.zoo.dataset.cache_dir` ``/broad``."""
    from hnn_tf.zoo.dataset import cache_dir

    return cache_dir() / "broad"


def _record_path(folder: Path, entry: ZooEntry, kind: str = "record") -> Path:
    """``<folder>/<source>/<name>.json.gz`` for the record, ``<name>.ir.json.gz`` for its IR."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in entry.name)
    return folder / entry.source / (f"{safe}.json.gz" if kind == "record" else f"{safe}.ir.json.gz")


def _read(path: Path) -> dict | None:
    try:
        return json.loads(gzip.decompress(path.read_bytes()))
    except (OSError, ValueError, EOFError):
        return None


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, gzip.compress(json.dumps(data).encode(), compresslevel=5))


# --------------------------------------------------------------------------- the worker

def _graph_from_ir_dict(ir: dict, source: str) -> LayerGraph:
    from hnn_tf.graph.ir import GraphIR
    from hnn_tf.graph.recipes import get_recipe

    return get_recipe("canonical").base_from_ir(GraphIR.from_dict(ir), source=source)


def build_entry(entry: ZooEntry, max_params: int | None, timeout_s: float = ENTRY_TIMEOUT_S) -> dict:
    """Build, export and graph one entry; never raises.

    Args:
        entry: the entry.
        max_params: the parameter cap, or None.
        timeout_s: the time limit for the three steps together.
    Returns:
        the record's data: ``status``, ``task``, ``params``, ``notes``, ``error``, ``seconds``,
        and for a built entry ``ir`` (:meth:`GraphIR.to_dict`) and ``graph``
        (:meth:`LayerGraph.to_dict`).
    """
    from hnn_tf._tf import quiet_native_output
    from hnn_tf.graph.builder import build_ir
    from hnn_tf.graph.recipes import get_recipe
    from hnn_tf.safe_io import TimeLimitExceeded, time_limit
    from hnn_tf.zoo.sources import TooLarge

    source = get_source(entry.source)
    out: dict[str, Any] = {"status": "failed", "task": entry.task, "params": 0, "notes": "", "error": "",
                           "seconds": {}}
    t0 = time.perf_counter()
    step = "build"
    try:
        with quiet_native_output(), time_limit(timeout_s):
            built = source.build(entry, max_params)
            out.update(params=int(built.params), notes=built.notes, task=built.task or entry.task)
            t1 = time.perf_counter()
            step = "export"
            proto = source.export(built)
            out["notes"] = built.notes  # the export may add to them
            del built
            t2 = time.perf_counter()
            step = "graph"
            ir = build_ir(proto, source=entry.key)
            t3 = time.perf_counter()
            ir_data = ir.to_dict()
            graph = get_recipe("canonical").base_from_ir(ir, source=entry.key)
            t4 = time.perf_counter()
        out.update(status="built", ir=ir_data, graph=graph.to_dict())
        out["seconds"] = {"build": round(t1 - t0, 3), "export": round(t2 - t1, 3), "ir": round(t3 - t2, 3),
                          "graph": round(t4 - t2, 3)}
    except TooLarge as exc:
        out.update(status="too-large", params=int(exc.params), error=str(exc))
    except TimeLimitExceeded:
        out["error"] = f"{step}: took longer than {timeout_s:.0f} s"
    except Exception as exc:  # noqa: BLE001 - any library error is recorded for this entry only
        text = " ".join(str(exc).split())[:300]
        out["error"] = f"{step}: {type(exc).__name__}: {text}" if text else f"{step}: {type(exc).__name__}"
    if out["status"] != "built" and not out["seconds"]:
        out["seconds"] = {"total": round(time.perf_counter() - t0, 3)}
    known = source.known_failure(entry)
    out["known"] = bool(known) and out["status"] == "failed"
    return out


def _worker_init() -> None:
    """Worker processes: one thread each for torch and onnxruntime (the workers are the parallelism)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    importlib.import_module("hnn_tf")  # sets the TensorFlow and logging environment

    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a requirement
        pass


def _entry_from(data: dict) -> ZooEntry:
    return ZooEntry(data["name"], data["family"], data["source"], data["task"], data.get("options", {}))


def _entry_data(e: ZooEntry) -> dict:
    return {"name": e.name, "family": e.family, "source": e.source, "task": e.task, "options": e.options}


def _build_entry_remote(entry_data: dict, module: str, max_params: int | None, timeout_s: float) -> dict:
    """:func:`build_entry` in a worker; ``module`` defines the entry's source (imported first, so
    that sources registered outside :mod:`hnn_tf.zoo.sources` work in workers too)."""
    if entry_data["source"] not in SOURCES:
        importlib.import_module(module)
    return build_entry(_entry_from(entry_data), max_params, timeout_s)


def _submit(pool: ProcessPoolExecutor, e: ZooEntry, max_params: int | None, timeout_s: float):
    return pool.submit(_build_entry_remote, _entry_data(e), type(get_source(e.source)).__module__, max_params,
                       timeout_s)


# --------------------------------------------------------------------------- the build

def _cached_record(path: Path, entry: ZooEntry, ikey: str, gkey: str, max_params: int | None,
                   data: dict | None = None) -> dict | None:
    """The cached data of an entry if still valid under the keys and the cap (graph rebuilt from
    the IR when only the rules changed), else None. ``data``: the record already read from
    ``path`` (read here when None)."""
    data = _read(path) if data is None else data
    if data is None or data.get("ir_key") != ikey:
        return None
    status = data.get("status")
    params = int(data.get("params") or 0)
    if status == "too-large":
        cap = int(data.get("cap") or 0)
        if max_params is None or max_params > cap:
            return None  # the cap was raised: build it now
        return data
    if status == "built":
        if max_params is not None and params > max_params:
            return {**data, "status": "too-large", "error": f"{params:,} parameters, over the cap of {max_params:,}"}
        if data.get("graph_key") != gkey:
            ir = _read(_record_path(path.parent.parent, entry, "ir"))
            if ir is None:
                return None
            try:
                data["graph"] = _graph_from_ir_dict(ir, entry.key).to_dict()
            except Exception:  # noqa: BLE001 - rebuild the entry from scratch
                return None
            data["graph_key"] = gkey
            _write(path, data)
    return data


def _previous_seconds(data: dict | None) -> float:
    """Seconds a (stale) record says its entry took to build, or 0 for no record."""
    seconds = (data or {}).get("seconds") or {}
    return float(sum(v for k, v in seconds.items() if k in ("build", "export", "graph", "total")))


def _record(entry: ZooEntry, data: dict) -> ZooRecord:
    graph = LayerGraph.from_dict(data["graph"]) if data.get("status") == "built" else None
    return ZooRecord(entry=entry, status=data["status"], task=data.get("task") or entry.task,
                     params=int(data.get("params") or 0), notes=data.get("notes", ""), error=data.get("error", ""),
                     known=data.get("status") == "failed" and bool(get_source(entry.source).known_failure(entry)),
                     seconds=data.get("seconds", {}), graph=graph)


def _mark_aliases(records: list[ZooRecord]) -> None:
    order = {s: k for k, s in enumerate(_SOURCE_ORDER)}
    first: dict[str, ZooRecord] = {}
    for r in sorted((r for r in records if r.graph is not None),
                    key=lambda r: (order.get(r.entry.source, len(order)), r.entry.name)):
        fp = r.graph.fingerprint()
        if fp in first:
            r.alias_of = first[fp].key
        else:
            first[fp] = r
            r.alias_of = None


def select_entries(sources: Iterable[str] = DEFAULT_SOURCES, names: Iterable[str] | None = None) -> list[ZooEntry]:
    """The entries of ``sources`` (each a registered source name), optionally only those whose
    name or key is in ``names``.

    Raises:
        HNNError: an unknown source.
    """
    wanted = set(names) if names is not None else None
    out = []
    for s in sources:
        for e in _entries(s):
            if wanted is None or e.name in wanted or e.key in wanted:
                out.append(e)
    return out


def _entries(source: str) -> list[ZooEntry]:
    """The entries of a registered source. Listing imports the source's libraries (Keras'
    applications load TensorFlow, whose native start-up lines ignore ``TF_CPP_MIN_LOG_LEVEL``);
    their output is kept off the terminal (:func:`hnn_tf._tf.quiet_native_output`).

    Raises:
        HNNError: an unknown source.
    """
    from hnn_tf._tf import quiet_native_output

    src = get_source(source)
    with quiet_native_output():
        return list(src.entries())


def build_zoo(sources: Iterable[str] = DEFAULT_SOURCES, max_params: int | None = DEFAULT_MAX_PARAMS,
              jobs: int | None = None, progress: bool = True, names: Iterable[str] | None = None,
              directory: Path | None = None, timeout_s: float = ENTRY_TIMEOUT_S, rebuild: bool = False) -> BroadZoo:
    """Build (or read from the cache) every entry of ``sources``; see the module doc.

    Args:
        sources: registered source names (:data:`hnn_tf.zoo.sources.SOURCES`).
        max_params: the parameter cap (default 100 M); None for none.
        jobs: worker processes (default: the number of CPU cores); 0 builds in this process.
        progress: a tqdm progress bar on stderr.
        names: only these entry names (or ``source:name`` keys).
        directory: the cache folder (default :func:`zoo_dir`).
        timeout_s: the time limit per entry.
        rebuild: ignore the cache.
    Returns:
        :class:`BroadZoo` with aliases marked.
    Raises:
        HNNError: an unknown source.
    """
    from tqdm import tqdm

    folder = directory or zoo_dir()
    entries = select_entries(sources, names)
    keys = {s: ir_key(s) for s in dict.fromkeys(e.source for e in entries)}
    gkeys = {s: graph_key(k) for s, k in keys.items()}
    results: dict[str, dict] = {}
    todo: list[ZooEntry] = []
    previous: dict[str, float] = {}
    for e in entries:
        path = _record_path(folder, e)
        raw = None if rebuild or not path.exists() else _read(path)
        data = None if raw is None else _cached_record(path, e, keys[e.source], gkeys[e.source], max_params, raw)
        if data is None:
            todo.append(e)
            previous[e.key] = _previous_seconds(raw)
        else:
            results[e.key] = data
    # the slowest first (as the stale cache records them), so that no long export is left for the end
    todo.sort(key=lambda e: -previous[e.key])
    t0 = time.perf_counter()
    bar = tqdm(total=len(todo), desc="building the zoo", unit="model", disable=not progress or not todo)
    tally: Counter = Counter()

    def store(e: ZooEntry, data: dict) -> None:
        data.update(ir_key=keys[e.source], graph_key=gkeys[e.source], cap=max_params, entry=_entry_data(e))
        ir = data.pop("ir", None)
        if ir is not None:
            _write(_record_path(folder, e, "ir"), ir)
        _write(_record_path(folder, e), data)
        results[e.key] = data
        tally[data["status"]] += 1
        bar.set_postfix_str(f"{e.key} | " + " ".join(f"{k} {v}" for k, v in sorted(tally.items())), refresh=False)
        bar.update(1)

    if todo:
        workers = (os.cpu_count() or 1) if jobs is None else jobs
        if workers <= 0:
            for e in todo:
                store(e, build_entry(e, max_params, timeout_s))
        else:
            _run_pool(todo, max_params, timeout_s, workers, store)
    bar.close()
    records = [_record(e, results[e.key]) for e in entries]
    _mark_aliases(records)
    return BroadZoo(records, wall_seconds=time.perf_counter() - t0 if todo else 0.0, rebuilt=len(todo))


def _run_pool(todo: list[ZooEntry], max_params, timeout_s, workers: int, store) -> None:
    """Run the entries in ``workers`` processes, ``workers`` at a time; when a worker dies, the
    entries in flight are retried one by one, and the one that kills its worker again is
    recorded as failed."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    queue = list(reversed(todo))
    suspects: list[ZooEntry] = []

    def new_pool(n: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_worker_init,
                                   max_tasks_per_child=TASKS_PER_WORKER)

    pool = new_pool(workers)
    running: dict = {}
    try:
        while queue or running or suspects:
            if suspects and not running:
                pool.shutdown(wait=True, cancel_futures=True)
                for e in suspects:  # one at a time, each in its own fresh worker
                    solo = new_pool(1)
                    try:
                        store(e, _submit(solo, e, max_params, timeout_s).result())
                    except BrokenProcessPool:
                        store(e, {"status": "failed", "task": e.task, "params": 0, "notes": "", "seconds": {},
                                  "error": "crash: the worker process died (a native library crashed or ran out of "
                                           "memory)", "known": bool(get_source(e.source).known_failure(e))})
                    finally:
                        solo.shutdown(wait=True, cancel_futures=True)
                suspects = []
                pool = new_pool(workers)
            while queue and len(running) < workers and not suspects:
                e = queue.pop()
                running[_submit(pool, e, max_params, timeout_s)] = e
            if not running:
                continue
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for f in done:
                e = running.pop(f)
                try:
                    store(e, f.result())
                except BrokenProcessPool:
                    suspects.append(e)
            if suspects:
                suspects.extend(running.values())
                running = {}
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def load_zoo(sources: Iterable[str] = DEFAULT_SOURCES, max_params: int | None = DEFAULT_MAX_PARAMS,
             directory: Path | None = None) -> BroadZoo:
    """The broad zoo from the cache only (no build): entries never built are left out.

    Raises:
        HNNError: an unknown source.
    """
    folder = directory or zoo_dir()
    records = []
    for s in sources:
        ikey = ir_key(s)
        gkey = graph_key(ikey)
        for e in _entries(s):
            data = _cached_record(_record_path(folder, e), e, ikey, gkey, max_params)
            if data is not None:
                records.append(_record(e, data))
    _mark_aliases(records)
    return BroadZoo(records)


def available_sources() -> list[str]:
    """The registered source names."""
    return list(SOURCES)
