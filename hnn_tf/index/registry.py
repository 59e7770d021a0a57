"""The registry of known models and the piracy check of paper Figure 1.

A platform keeps the codes of its known models (:class:`Registry`, stored by
:mod:`hnn_tf.index.store`). An uploaded model is hashed and compared with them by exact
Hamming search (:mod:`hnn_tf.index.engine`); a known model within the threshold
(:mod:`hnn_tf.index.threshold`) flags the upload as suspect for a further check.

The Python API mirrors the ``hnn index`` / ``hnn search`` / ``hnn check`` commands::

    from hnn_tf.index import Registry
    with Registry("models.sqlite") as reg:
        reg.add("resnet18.onnx", label="vendor-x")
        reg.search("upload.onnx", k=5)           # SearchResult, nearest first
        reg.check("upload.onnx").suspect         # True when a known model is within the threshold

What ``sha256`` means: for a file, the sha256 of its bytes; for a model object (an
``nn.Module``, a Keras model, an ``onnx.ModelProto``), the sha256 of its ONNX export
serialised deterministically (``ModelProto.SerializeToString(deterministic=True)``) followed
by the converter's digest of the object's weights (the export leaves weights out;
:meth:`hnn_tf.converters.Converter.weights_digest`), so the same object state and library
versions give the same value and two trainings of one architecture two values. The zoo models are built with
``torch.manual_seed(0)`` for that reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from hnn_tf.errors import ConversionError, HashError, HNNError
from hnn_tf.codes import ModelHash, ModelReport
from hnn_tf.index.engine import HammingIndex, resolve_engine
from hnn_tf.index.store import DuplicateError, Entry, RegistryError, Store, default_db_path
from hnn_tf.index.threshold import ThresholdChoice, threshold_for
from hnn_tf.safe_io import atomic_write, current_limits, memory_limit, open_regular, read_regular, time_limit

__all__ = ["AddResult", "CheckResult", "Match", "Registry", "SearchResult", "installed_hasher"]

#: Neighbours ``hnn check`` reports by default.
CHECK_K = 5


def installed_hasher(bits: int | None = 64, hasher_dir: str | os.PathLike | None = None) -> tuple[int, str]:
    """Q and version of a hasher, read from its ``config.json`` (TensorFlow is not loaded).

    Args:
        bits: Q of the default hasher (default 64), or the Q the folder's hasher must have.
        hasher_dir: a hasher folder written by ``hnn train`` or ``hnn zoo train``, or a shipped
            kind's name (default: the package's default hasher).
    Returns:
        (bits, version).
    Raises:
        HNNError: no such hasher, an unreadable config, or a Q other than ``bits``.
    """
    from hnn_tf.hasher_files import HasherFolder

    folder = HasherFolder.locate(bits if (bits is not None or hasher_dir) else 64, hasher_dir)
    version = folder.version
    if not version:  # an old folder without the version: load the network to derive it
        from hnn_tf.hashing import load_hasher

        version = load_hasher(folder.bits, str(hasher_dir) if hasher_dir else None).version
    return folder.bits, str(version)


def _file_sha256(path: Path) -> str:
    """sha256 of a regular file's bytes (:func:`hnn_tf.safe_io.open_regular`: never a FIFO or a device)."""
    fd, _ = open_regular(path)
    try:
        with os.fdopen(fd, "rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        raise HNNError(f"cannot read the file ({exc.strerror or exc})", str(path)) from None


@dataclass(frozen=True)
class Match:
    """One known model found by a search.

    Attributes:
        distance: Hamming distance to the query's code (0..Q).
        entry: the stored :class:`~hnn_tf.index.store.Entry`.
        same_file: True when the entry's sha256 equals the query's (a byte-identical copy).
    """

    distance: int
    entry: Entry
    same_file: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``distance``, ``same_file`` and the entry's fields."""
        return {"distance": self.distance, "same_file": self.same_file, **self.entry.to_dict()}


@dataclass(frozen=True)
class _Query:
    hash: ModelHash
    source: str | None = None
    sha256: str | None = None
    report: ModelReport | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "sha256": self.sha256}
        if self.report is not None:
            out.update(self.report.to_dict())
        else:
            out.update({"bits": self.hash.bits, "hash": str(self.hash)})
        out["hasher_version"] = self.hash.hasher_version
        return out


@dataclass(frozen=True)
class SearchResult:
    """The answer of :meth:`Registry.search`: the query's code and the matches, nearest first.

    Iterating, ``len`` and indexing go over :attr:`matches`.

    Attributes:
        query: the query's code (a :class:`ModelHash` tagged with the version it was compared under).
        source: the query's path (``None`` for an object or a code).
        sha256: the query's sha256 (``None`` for a code).
        report: graph facts of the query model (``None`` for a code).
        matches: list of :class:`Match`, increasing distance, ties by insertion order.
        k, radius: the limits the search ran with.
    """

    query: ModelHash
    source: str | None
    sha256: str | None
    report: ModelReport | None
    matches: list[Match]
    k: int | None
    radius: int | None

    def __iter__(self):
        return iter(self.matches)

    def __len__(self) -> int:
        return len(self.matches)

    def __getitem__(self, i):
        return self.matches[i]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``query`` (source, sha256, hash, bits, hasher_version, graph facts), ``k``, ``radius``, ``matches``."""
        q = _Query(self.query, self.source, self.sha256, self.report)
        return {"query": q.to_dict(), "k": self.k, "radius": self.radius, "matches": [m.to_dict() for m in self.matches]}


@dataclass(frozen=True)
class CheckResult:
    """The verdict of :meth:`Registry.check` (paper Figure 1): is the upload close to a known model?

    Attributes:
        query, source, sha256, report: as in :class:`SearchResult`.
        threshold: the :class:`~hnn_tf.index.threshold.ThresholdChoice` used (value in bits).
        suspect: True when some known model is at distance <= ``threshold.value``.
        within: how many known models are at distance <= ``threshold.value``.
        matches: the nearest known models (at most ``k``), nearest first.
    """

    query: ModelHash
    source: str | None
    sha256: str | None
    report: ModelReport | None
    threshold: ThresholdChoice
    suspect: bool
    within: int
    matches: list[Match]

    @property
    def verdict(self) -> str:
        """``"suspect"`` or ``"clean"``."""
        return "suspect" if self.suspect else "clean"

    @property
    def exit_code(self) -> int:
        """The ``hnn check`` exit status: 1 suspect, 0 clean."""
        return 1 if self.suspect else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: verdict, suspect, threshold (value, source, calibrated_for, warning), within, query, matches."""
        q = _Query(self.query, self.source, self.sha256, self.report)
        t = self.threshold
        return {
            "verdict": self.verdict,
            "suspect": self.suspect,
            "threshold": t.value,
            "threshold_source": t.source,
            "threshold_calibrated_for": t.calibrated_for,
            "threshold_warning": t.warning,
            "within_threshold": self.within,
            "query": q.to_dict(),
            "matches": [m.to_dict() for m in self.matches],
        }


@dataclass(frozen=True)
class AddResult:
    """What :meth:`Registry.add_many` did with one model.

    Attributes:
        source: the path (or ``torchvision:<name>``) as given.
        entry: the stored entry, or the one already stored for a skipped duplicate.
        added: False when the model was already stored (same sha256 and hasher version).
    """

    source: str
    entry: Entry
    added: bool


def _check_k(k: Any) -> None:
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise HNNError(f"k must be a positive integer, got {k!r}")


def _check_bits_bound(what: str, value: int | None, bits: int) -> None:
    """Refuse a radius or threshold above the code length: every code is within Q bits of every other."""
    if value is not None and value > bits:
        raise HNNError(f"the {what} {value} is larger than the code length ({bits} bits): every known model would "
                       f"be within it; use 0..{bits}")


class Registry:
    """A registry of known models: add, list, remove, export/import, search and check.

    Args:
        path: the SQLite file (default :func:`~hnn_tf.index.store.default_db_path`: ``$HNN_DB``
            or the user's data folder).
        bits: Q of the hasher used to hash new models and queries (default 64, or the
            ``hasher_dir``'s).
        hasher_dir: a hasher folder written by ``hnn train`` or ``hnn zoo train``, or a shipped
            kind's name (default: the package's default hasher).
        engine: search engine, ``"auto"`` (faiss when installed), ``"faiss"`` or ``"numpy"``.
        create: create the file when missing (``False``: a missing file is an error).
        readonly: open the file for reading only (searches, checks, listing, export): nothing
            is written to it, and a registry in a read-only folder can be read.

    The in-memory index of each (bits, hasher version) is built on the first query and kept
    between queries until the database changes (this process's writes, or another process's
    commits seen through SQLite's ``data_version``).

    Raises:
        RegistryError: the file is missing (``create=False``), corrupt, or not a registry.
        HNNError: an unknown engine.
    """

    def __init__(self, path: str | os.PathLike | None = None, *, bits: int | None = None,
                 hasher_dir: str | os.PathLike | None = None, engine: str = "auto", create: bool = True,
                 readonly: bool = False):
        self.engine = resolve_engine(engine)
        self.path = Path(path).expanduser() if path else default_db_path()
        self.hasher_dir = str(hasher_dir) if hasher_dir else None
        self._bits_arg = bits
        self._hasher: tuple[int, str] | None = None
        self._cache: dict[tuple[int, str], tuple[tuple[int, int], HammingIndex]] = {}
        self._writes = 0
        self.store = Store(self.path, create=create, readonly=readonly)

    # -- plumbing -------------------------------------------------------------------------

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connection."""
        self.store.close()

    def __len__(self) -> int:
        return self.store.count()

    def __repr__(self) -> str:
        return f"Registry({str(self.path)!r}, engine={self.engine!r})"

    @property
    def bits(self) -> int:
        """Q of the hasher this registry hashes with."""
        return self._installed()[0]

    @property
    def hasher_version(self) -> str:
        """Version of the hasher this registry hashes with (read from its config, no TensorFlow)."""
        return self._installed()[1]

    def _installed(self) -> tuple[int, str]:
        if self._hasher is None:
            bits = self._bits_arg if (self._bits_arg is not None or self.hasher_dir) else 64
            self._hasher = installed_hasher(bits, self.hasher_dir)
        return self._hasher

    def _changed(self) -> None:
        self._writes += 1

    def _analyse(self, model_or_path: Any, framework: str | None, options: dict, sha: str | None = None) -> _Query:
        """Hash a model or file in one pipeline call (:func:`hnn_tf.hashing.analyse_model`): the code,
        the graph facts and the sha256 (file bytes, or ONNX export bytes for an object)."""
        from hnn_tf.hashing import analyse_model

        bits, _ = self._installed()
        # a file, a folder a converter reads or a model name (timm:resnet50), as `hnn hash` takes
        # them: the converter registry says "no such file" or names what it cannot read
        path = str(model_or_path) if isinstance(model_or_path, (str, os.PathLike)) else None
        report = analyse_model(path or model_or_path, bits=bits, hasher_dir=self.hasher_dir, framework=framework,
                               sha256=sha, **options)
        return _Query(report.hash, path, report.sha256, report)

    # -- adding ---------------------------------------------------------------------------

    def add(self, model_or_path: Any, *, name: str | None = None, label: str | None = None,
            framework: str | None = None, source: str | None = None, on_duplicate: str = "error",
            **options: Any) -> Entry:
        """Hash a model and store it (one transaction).

        Args:
            model_or_path: a model file, a folder a converter reads (a transformers folder, a
                SavedModel), a model name a converter builds (``timm:resnet50``), or a model
                object (``nn.Module``, Keras model, ``onnx.ModelProto``; see
                :func:`hnn_tf.converters.to_onnx`).
            name: unique per hasher version (default: the file's stem, or the object's class name).
            label: free text, e.g. the owner.
            framework: force a converter (default: detected).
            source: what to record as the source (default: the path as given, or
                ``"<object ClassName>"`` for an object).
            on_duplicate: ``"error"`` raises :class:`DuplicateError` when the same file (sha256)
                is stored for this hasher version; ``"skip"`` returns the stored entry instead.
            **options: converter options (``input_shape``, ``trust_pickle``...).
        Returns:
            the stored :class:`Entry` (with its id), or the existing one for a skipped duplicate.
        Raises:
            DuplicateError: see ``on_duplicate``.
            RegistryError: the name is taken by another model of this hasher version; database errors.
            HNNError: a missing, unreadable, corrupt or unsupported model; no hasher installed.
        """
        return self.add_one(model_or_path, name, label, framework, source, on_duplicate, options).entry

    def add_one(self, model_or_path: Any, name: str | None, label: str | None, framework: str | None,
                source: str | None, on_duplicate: str, options: dict) -> AddResult:
        """:meth:`add`, returning whether the model was stored or already there (an :class:`AddResult`).

        Raises:
            as :meth:`add`.
        """
        bits, version = self._installed()
        is_path = isinstance(model_or_path, (str, os.PathLike))
        shown = str(model_or_path) if is_path else (source or f"<object {type(model_or_path).__name__}>")
        sha = None
        if is_path and Path(model_or_path).is_file():  # skip the slow hashing of a known file
            sha = _file_sha256(Path(model_or_path))
            existing = self.store.find_sha(sha, version)
            if existing is not None:
                if on_duplicate == "skip":
                    return AddResult(shown, existing, False)
                raise DuplicateError(f"{shown}: already registered as {existing.name!r} (id {existing.id}, "
                                     "same sha256 and hasher version)", str(self.path), existing)
        q = self._analyse(model_or_path, framework, options, sha)
        default_name = Path(model_or_path).stem if is_path else type(model_or_path).__name__
        entry = Entry(None, name or default_name, label, q.report.framework, source or shown, q.sha256, q.hash,
                      q.report.nodes, q.report.edges, q.report.flops, q.report.params, "")
        (stored, added), = self.store.insert([entry], on_duplicate=on_duplicate)
        if added:
            self._changed()
        return AddResult(shown, stored, added)

    def add_many(self, paths: Iterable[Any], *, label: str | None = None, framework: str | None = None,
                 on_duplicate: str = "skip", progress: bool = True, timeout_s: float | None = None,
                 memory_bytes: int | None = None, **options: Any) -> list[AddResult]:
        """Hash and store several models, one transaction each, with a progress bar.

        Stops at the first model that cannot be read (the error propagates); the models
        stored before it stay stored.

        Args:
            paths: model files (or objects; their names are their class names).
            label: label of every new entry.
            framework: force a converter.
            on_duplicate: ``"skip"`` (default) or ``"error"``, as in :meth:`add`.
            progress: show a tqdm bar on stderr.
            timeout_s: seconds each model may take (:func:`hnn_tf.safe_io.time_limit`; main
                thread only); None or 0: no limit.
            memory_bytes: address space each model may add (:func:`hnn_tf.safe_io.memory_limit`);
                None or 0: no limit.
            **options: converter options.
        Returns:
            one :class:`AddResult` per model, in order.
        Raises:
            as :meth:`add`.
        """
        from tqdm import tqdm

        items = list(paths)
        out = []
        with tqdm(items, desc="hashing", unit="model", disable=not progress or None, file=sys.stderr) as bar:
            for item in bar:
                if isinstance(item, (str, os.PathLike)):
                    bar.set_postfix_str(Path(item).name)
                shown = str(item) if isinstance(item, (str, os.PathLike)) else None
                with time_limit(timeout_s, shown), memory_limit(memory_bytes):
                    out.append(self.add_one(item, None, label, framework, None, on_duplicate, options))
        return out

    def add_entries(self, entries: Iterable[Entry], on_duplicate: str = "skip") -> list[tuple[Entry, bool]]:
        """Store precomputed entries (e.g. from an export) in ONE transaction.

        Args:
            entries: :class:`Entry` records with versioned codes (their ids are ignored).
            on_duplicate: ``"skip"`` or ``"error"`` for a stored (sha256, hasher version).
        Returns:
            per entry: (stored or existing entry, added?).
        Raises:
            DuplicateError, RegistryError: as :meth:`Store.insert`; nothing is stored then.
        """
        out = self.store.insert(entries, on_duplicate=on_duplicate)
        if any(added for _, added in out):
            self._changed()
        return out

    # -- listing, removing, export/import ---------------------------------------------------

    def entries(self, hasher_version: str | None = None, name: str | None = None) -> list[Entry]:
        """Stored entries in insertion order (optionally of one hasher version and/or name)."""
        return self.store.entries(hasher_version, name)

    def remove(self, name: str, hasher_version: str | None = None) -> list[Entry]:
        """Delete the entries called ``name`` (all hasher versions unless one is given), in one transaction.

        Returns:
            the deleted entries.
        Raises:
            RegistryError: no entry has that name.
        """
        gone = self.store.delete_name(name, hasher_version)
        if not gone:
            raise RegistryError(f"no model called {name!r} in the registry", str(self.path))
        self._changed()
        return gone

    def export_jsonl(self, out: str | os.PathLike | TextIO) -> int:
        """Write every entry as one JSON object a line (the fields of :meth:`Entry.to_dict`), in insertion order.

        Args:
            out: a file path, written atomically (:func:`hnn_tf.safe_io.atomic_write`: a fresh
                temporary file in the same folder, renamed over the target; a target that
                exists and is not a regular file is refused), or an open text stream.
        Returns:
            the number of entries written.
        Raises:
            HNNError: the target is a symbolic link, a device, a FIFO or a folder, or cannot be written.
        """
        entries = self.entries()
        lines = "".join(json.dumps(e.to_dict()) + "\n" for e in entries)
        if hasattr(out, "write"):
            out.write(lines)  # type: ignore[union-attr]
            return len(entries)
        atomic_write(Path(out), lines)
        return len(entries)

    def import_jsonl(self, source: str | os.PathLike | TextIO) -> tuple[int, int]:
        """Read an export and store its entries in ONE transaction; stored files are skipped.

        Every line is validated before anything is stored: a bad line, or a name taken by
        another model, stores nothing.

        Args:
            source: a JSONL file written by :meth:`export_jsonl` (or an open text stream).
        Returns:
            (added, skipped) counts.
        Raises:
            RegistryError: an unreadable file, a line that is not a valid entry (the message
                names the line), or a name conflict.
        """
        where = getattr(source, "name", None) if hasattr(source, "read") else str(source)
        try:
            if hasattr(source, "read"):
                text = source.read()  # type: ignore[union-attr]
            else:
                text = read_regular(source, max_bytes=current_limits().config_bytes).decode("utf-8")
        except ConversionError as exc:
            raise RegistryError(exc.message, where) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise RegistryError(f"cannot read the import file ({getattr(exc, 'strerror', None) or exc})", where) from None
        entries = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError as exc:
                raise RegistryError(f"line {n}: not JSON ({exc.args[0] if exc.args else exc})", where) from None
            try:
                entries.append(Entry.from_dict(data, where=f"line {n}"))
            except RegistryError as exc:
                raise RegistryError(exc.message, where) from None
        out = self.add_entries(entries, on_duplicate="skip")
        added = sum(1 for _, a in out if a)
        return added, len(out) - added

    # -- search and check --------------------------------------------------------------------

    def _query(self, query: Any, framework: str | None, options: dict) -> _Query:
        if isinstance(query, ModelHash):
            return _Query(query)
        if isinstance(query, Entry):
            return _Query(query.hash, query.source, query.sha256)
        return self._analyse(query, framework, options)

    def _kind(self, code: ModelHash) -> tuple[int, str]:
        """(bits, version) a query code is compared under; an unversioned code takes the installed hasher's."""
        if code.hasher_version is not None:
            return code.bits, code.hasher_version
        try:
            bits, version = self._installed()
        except HNNError:
            bits, version = -1, ""
        if bits == code.bits:
            return bits, version
        kinds = self.store.code_kinds()
        versions = [v for (b, v) in kinds if b == code.bits]
        if len(versions) == 1:
            return code.bits, versions[0]
        if versions:
            raise HashError(f"several hashers made the registry's {code.bits}-bit codes ({', '.join(versions)}); "
                            "name the hasher version of the code")
        held = ", ".join(sorted({f"{b}-bit" for b, _ in kinds})) or "no codes"
        raise HashError(f"cannot compare the {code.bits}-bit code {code} with the registry's codes ({held}): "
                        "codes of another length are never compared")

    def index(self, bits: int | None = None, hasher_version: str | None = None) -> HammingIndex:
        """The in-memory index of the stored codes of one kind (default: the installed hasher's), cached.

        Raises:
            RegistryError: the registry holds no code of that kind (the message lists what it holds).
        """
        if bits is None or hasher_version is None:
            bits, hasher_version = self._installed()
        kind = (int(bits), hasher_version)
        token = (self.store.data_version(), self._writes)
        hit = self._cache.get(kind)
        if hit is not None and hit[0] == token:
            return hit[1]
        packed, ids = self.store.load_codes(*kind)
        if len(ids) == 0:
            kinds = self.store.code_kinds()
            if not kinds:
                raise RegistryError("the registry is empty; add models with `hnn index add`", str(self.path))
            held = ", ".join(f"{n} codes of {b} bits by {v}" for (b, v), n in sorted(kinds.items()))
            raise RegistryError(f"the registry holds no {bits}-bit codes of hasher {hasher_version} "
                                f"(it holds {held}); codes of another hasher or length are never compared: "
                                "add the models again with this hasher", str(self.path))
        idx = HammingIndex(packed, ids, kind[0], kind[1], self.engine)
        self._cache = {kind: (token, idx)} | {k: v for k, v in self._cache.items() if v[0] == token and k != kind}
        return idx

    def _matches(self, q: _Query, neighbours) -> list[Match] | None:
        found = self.store.entries_by_id(neighbours.ids.tolist())
        if len(found) != len(neighbours):
            return None  # removed meanwhile by another process
        return [Match(int(d), found[int(i)], q.sha256 is not None and found[int(i)].sha256 == q.sha256)
                for d, i in zip(neighbours.distances, neighbours.ids)]

    def _run(self, q: _Query, k: int | None, radius: int | None):
        for attempt in range(3):
            idx = self.index(*self._kind(q.hash))
            code = q.hash if q.hash.hasher_version else ModelHash(q.hash.code, idx.hasher_version)
            nb = idx.search(code, k) if radius is None else idx.within(code, radius, k)
            matches = self._matches(q, nb)
            if matches is not None:
                return dataclasses.replace(q, hash=code), idx, matches
            self._cache.clear()
        raise RegistryError("the registry keeps changing under this search; try again", str(self.path))

    def search(self, query: Any, k: int | None = 10, radius: int | None = None, *, framework: str | None = None,
               **options: Any) -> SearchResult:
        """The known models nearest to a model or a code (exact Hamming search).

        Args:
            query: a :class:`ModelHash` (an unversioned one is taken to be of the installed
                hasher), a model file, or a model object (hashed with this registry's hasher).
            k: at most this many matches (>= 1); ``None`` with a radius: no limit.
            radius: only matches at distance <= radius.
            framework: force the query's converter.
            **options: converter options for the query.
        Returns:
            SearchResult, nearest first, ties by insertion order.
        Raises:
            HashError: the query's code is of another length or hasher version than any stored
                code it could be compared with.
            RegistryError: the registry holds no code of the query's kind, or is corrupt.
            HNNError: the query model cannot be read or hashed; k < 1 or radius < 0.
        """
        if k is None and radius is None:
            raise HNNError("give k, a radius, or both")
        _check_k(k)
        q = self._query(query, framework, options)
        _check_bits_bound("radius", radius, q.hash.bits)
        q, _, matches = self._run(q, k, radius)
        return SearchResult(q.hash, q.source, q.sha256, q.report, matches, k, radius)

    def threshold(self, hasher_version: str | None = None, bits: int | None = None) -> ThresholdChoice:
        """The default check threshold for a hasher version (default: the installed hasher), see
        :func:`~hnn_tf.index.threshold.threshold_for`."""
        if hasher_version is None or bits is None:
            bits, hasher_version = self._installed()
        return threshold_for(bits, hasher_version, self.hasher_dir)

    def check(self, query: Any, threshold: int | None = None, k: int = CHECK_K, *, framework: str | None = None,
              **options: Any) -> CheckResult:
        """Paper Figure 1: is the query close to a known model?

        Args:
            query: as for :meth:`search`.
            threshold: T in bits; suspect when a known model is at distance <= T. Default: the
                threshold calibrated for the hasher (:mod:`hnn_tf.index.threshold`).
            k: how many nearest known models the report names.
            framework, **options: as for :meth:`search`.
        Returns:
            CheckResult (``.suspect``, ``.exit_code``, ``.matches``...).
        Raises:
            as :meth:`search`; HNNError: a negative threshold, or no calibrated threshold at all.
        """
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0):
            raise HNNError(f"threshold must be a non-negative integer, got {threshold!r}")
        _check_k(k)
        q = self._query(query, framework, options)
        _check_bits_bound("threshold", threshold, q.hash.bits)
        q, idx, matches = self._run(q, k, None)
        if threshold is None:
            choice = self.threshold(q.hash.hasher_version, q.hash.bits)
        else:
            choice = ThresholdChoice(int(threshold), "user")
        within = len(idx.within(q.hash, choice.value))
        suspect = bool(matches) and matches[0].distance <= choice.value
        return CheckResult(q.hash, q.source, q.sha256, q.report, choice, suspect, within, matches)
