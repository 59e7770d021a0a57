"""SQLite storage of the registry of known models (paper Figure 1: the platform's stored codes).

One file, one table. The database uses the standard library's :mod:`sqlite3`:

* WAL journal mode, so readers are never blocked by one writer and see a consistent snapshot;
* every write is one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``); a failed write is
  rolled back whole, so nothing already stored is lost;
* writers wait for each other (busy timeout, :data:`BUSY_TIMEOUT_S`), so two processes adding
  at once both succeed and lose no entry;
* the pair (sha256, hasher version) is unique: the same file is never stored twice for one
  hasher; the pair (name, hasher version) is unique too, so a name finds one model per hasher.

A file that is not an SQLite database, a malformed database, or an SQLite database that is
not an hnn registry is refused with a :class:`RegistryError` naming the file; such a file is
never written to (the header is checked before SQLite opens it).

Entry fields (table ``models``): ``id`` (insertion order, never reused), ``name``, ``label``,
``framework``, ``source`` (a path, or ``torchvision:<name>`` for a zoo model), ``sha256``
(of the source file's bytes; for a model object, of its ONNX export, see
:meth:`hnn_tf.index.Registry.add`), ``bits``, ``hash`` (Q/4 hex digits), ``hasher_version``,
``nodes``, ``edges``, ``flops`` (2 x multiply-adds on the trigger input), ``params`` and
``added_at`` (UTC, ISO 8601).
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from hnn_tf.errors import HashError, HNNError
from hnn_tf.codes import ModelHash
from hnn_tf.safe_io import describe_mode

__all__ = [
    "BUSY_TIMEOUT_S",
    "SCHEMA_VERSION",
    "DuplicateError",
    "Entry",
    "RegistryError",
    "Store",
    "default_db_path",
]

#: Seconds a writer waits for another process's write transaction before giving up.
BUSY_TIMEOUT_S = 60.0
#: Stored in ``PRAGMA user_version``; a registry of another schema version is refused.
SCHEMA_VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    label TEXT,
    framework TEXT NOT NULL,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    bits INTEGER NOT NULL,
    hash TEXT NOT NULL,
    hasher_version TEXT NOT NULL,
    nodes INTEGER NOT NULL,
    edges INTEGER NOT NULL,
    flops INTEGER NOT NULL,
    params INTEGER NOT NULL,
    added_at TEXT NOT NULL,
    UNIQUE (sha256, hasher_version),
    UNIQUE (name, hasher_version)
);
CREATE INDEX IF NOT EXISTS models_by_code_kind ON models (hasher_version, bits, id);
"""

_COLUMNS = ("id", "name", "label", "framework", "source", "sha256", "bits", "hash", "hasher_version",
            "nodes", "edges", "flops", "params", "added_at")
_INSERT_COLUMNS = _COLUMNS[1:]


class RegistryError(HNNError):
    """The registry cannot be used: missing, corrupt or foreign database file, a locked
    database, a name conflict, or a bad record in an import file."""


class DuplicateError(RegistryError):
    """The same file (same sha256) is already stored for the same hasher version.

    Attributes:
        existing: the stored :class:`Entry`.
    """

    def __init__(self, message: str, path: str | None = None, existing: "Entry | None" = None):
        super().__init__(message, path)
        self.existing = existing


def default_db_path() -> Path:
    """The registry used when none is named: ``$HNN_DB``, else ``registry.sqlite`` in the user's data folder.

    The data folder is ``platformdirs.user_data_dir("hnn")`` (``~/.local/share/hnn`` on Linux,
    honouring ``$XDG_DATA_HOME``); without platformdirs the XDG convention is applied directly.

    Returns:
        Path (it may not exist yet).
    """
    env = os.environ.get("HNN_DB")
    if env:
        return Path(env).expanduser()
    try:
        import platformdirs

        base = Path(platformdirs.user_data_dir("hnn", appauthor=False))
    except ImportError:  # pragma: no cover - platformdirs is a requirement
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "hnn"
    return base / "registry.sqlite"


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Entry:
    """One known model in the registry.

    Attributes:
        id: insertion number (int, increasing, never reused); ties in search are broken by it.
            ``None`` for a record not stored yet.
        name: unique per hasher version, e.g. ``"resnet18"``.
        label: free text, e.g. the owner (``"vendor-x"``) or the zoo category; may be ``None``.
        framework: the converter that read the model (``"pytorch"``, ``"keras"``, ``"onnx"``).
        source: the file's path as given when added, or ``"torchvision:<name>"`` for a zoo model.
        sha256: 64 lower-case hex digits: sha256 of the file's bytes, or of the ONNX export's
            bytes for a model object.
        hash: the code, a :class:`~hnn_tf.hashing.ModelHash` carrying ``bits`` and ``hasher_version``.
        nodes, edges: size of the hashed layer graph.
        flops: total FLOPs on the trigger input (2 x multiply-adds).
        params: total trainable parameters.
        added_at: when it was stored, UTC, ISO 8601 (``"2026-05-09T07:35:25+00:00"``).
    """

    id: int | None
    name: str
    label: str | None
    framework: str
    source: str
    sha256: str
    hash: ModelHash
    nodes: int
    edges: int
    flops: int
    params: int
    added_at: str

    @property
    def bits(self) -> int:
        """Q, the code length."""
        return self.hash.bits

    @property
    def hasher_version(self) -> str:
        """Version of the hasher that made the code."""
        return self.hash.hasher_version  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: every field, ``hash`` as hex, plus ``bits`` and ``hasher_version``."""
        return {
            "id": self.id, "name": self.name, "label": self.label, "framework": self.framework,
            "source": self.source, "sha256": self.sha256, "bits": self.bits, "hash": str(self.hash),
            "hasher_version": self.hasher_version, "nodes": self.nodes, "edges": self.edges,
            "flops": self.flops, "params": self.params, "added_at": self.added_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "record") -> "Entry":
        """Validate and build an entry from :meth:`to_dict` output (``id`` is ignored: the store numbers entries).

        Args:
            data: mapping with keys name, framework, source, sha256, bits, hash,
                hasher_version, nodes, edges, flops, params; label and added_at optional.
            where: how the error message names the record (e.g. ``"line 3"``).
        Returns:
            Entry with ``id=None``; ``added_at`` is now when missing.
        Raises:
            RegistryError: a key is missing or a value has the wrong type or form.
        """
        if not isinstance(data, Mapping):
            raise RegistryError(f"{where}: expected a JSON object, got {type(data).__name__}")
        need = ("name", "framework", "source", "sha256", "bits", "hash", "hasher_version",
                "nodes", "edges", "flops", "params")
        missing = [k for k in need if k not in data]
        if missing:
            raise RegistryError(f"{where}: missing {', '.join(missing)}")
        for key in ("name", "framework", "source", "sha256", "hasher_version"):
            if not isinstance(data[key], str) or not data[key]:
                raise RegistryError(f"{where}: {key} must be a non-empty string")
        for key in ("bits", "nodes", "edges", "flops", "params"):
            if isinstance(data[key], bool) or not isinstance(data[key], int) or data[key] < 0:
                raise RegistryError(f"{where}: {key} must be a non-negative integer")
        label = data.get("label")
        if label is not None and not isinstance(label, str):
            raise RegistryError(f"{where}: label must be a string or null")
        try:
            code = ModelHash.from_hex(str(data["hash"]), bits=data["bits"], hasher_version=data["hasher_version"])
        except HashError as exc:
            raise RegistryError(f"{where}: {exc}") from None
        sha = data["sha256"].lower()
        if not _SHA256.match(sha):
            raise RegistryError(f"{where}: sha256 must be 64 hex digits")
        return cls(None, data["name"], label, data["framework"], data["source"], sha, code,
                   data["nodes"], data["edges"], data["flops"], data["params"],
                   str(data.get("added_at") or _utc_now()))


def _stored_hash(hex_: str, bits: int, version: str) -> ModelHash:
    """A stored code as a ModelHash (a faster route than ``ModelHash.from_hex`` for trusted rows)."""
    try:
        raw = bytes.fromhex(hex_ if len(hex_) % 2 == 0 else "0" + hex_)
    except (ValueError, TypeError):
        raise RegistryError(f"corrupt registry: the stored code {hex_!r} is not hexadecimal") from None
    if len(hex_) * 4 != bits:
        raise RegistryError(f"corrupt registry: the stored code {hex_!r} does not have {bits} bits")
    return ModelHash(np.unpackbits(np.frombuffer(raw, dtype=np.uint8))[-bits:].view(np.bool_), version)


def _entry_from_row(row: Sequence[Any]) -> Entry:
    (id_, name, label, framework, source, sha, bits, hex_, version, nodes, edges, flops, params, added) = row
    return Entry(id_, name, label, framework, source, sha, _stored_hash(hex_, bits, version),
                 nodes, edges, flops, params, added)


def _entry_row(e: Entry) -> tuple:
    if e.hash.hasher_version is None:
        raise RegistryError(f"{e.name}: a stored code must carry its hasher version")
    if not _SHA256.match(e.sha256):
        raise RegistryError(f"{e.name}: sha256 must be 64 lower-case hex digits, got {e.sha256!r}")
    return (e.name, e.label, e.framework, e.source, e.sha256, e.bits, str(e.hash), e.hasher_version,
            int(e.nodes), int(e.edges), int(e.flops), int(e.params), e.added_at or _utc_now())


class Store:
    """The registry's SQLite file: open/create, transactions, queries. Used by :class:`~hnn_tf.index.Registry`.

    Args:
        path: the database file.
        create: create the file (and its folder) if missing; otherwise a missing file is an error.
        readonly: open for reading only (``mode=ro``): nothing is ever written, not even the
            schema or the WAL switch, so a registry in a read-only folder, or an empty file,
            can be read and is left as it is. An empty file or one without the hnn table reads
            as an empty registry.

    Raises:
        RegistryError: ``path`` is a folder or not a regular file; the file is missing
            (``create=False``); it is not an SQLite database, is malformed, or is an SQLite
            database without the hnn schema; it cannot be opened. The file is left unchanged
            in every case.
    """

    def __init__(self, path: str | os.PathLike, create: bool = True, readonly: bool = False):
        self.path = Path(path).expanduser()
        self._where = str(self.path)
        self.readonly = readonly
        self.empty = False
        if self.path.is_dir():
            raise RegistryError("is a folder; expected a registry file", self._where)
        exists = self.path.exists()
        if exists and not self.path.is_file():
            raise RegistryError(f"not a regular file ({describe_mode(self.path.stat().st_mode)})", self._where)
        if not exists and (not create or readonly):
            raise RegistryError("no registry here; add models with `hnn index add`", self._where)
        if exists:
            self._check_header()
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RegistryError(f"cannot create the registry's folder ({exc.strerror or exc})", self._where) from None
        self.conn = self._connect("ro" if readonly else "rwc" if create else "rw")
        try:
            with self.errors():
                self._init_schema()
        except RegistryError as exc:
            self.conn.close()
            if not readonly or "unable to open" not in str(exc):
                raise
            # a WAL registry in a folder we cannot write: SQLite cannot make its -shm file;
            # nobody can write there either, so read it as an immutable file
            self.conn = self._connect("ro", immutable=True)
            try:
                with self.errors():
                    self._init_schema()
            except BaseException:
                self.conn.close()
                raise
        except BaseException:
            self.conn.close()
            raise

    def _connect(self, mode: str, immutable: bool = False) -> sqlite3.Connection:
        uri = f"file:{quote(str(self.path.resolve()))}?mode={mode}" + ("&immutable=1" if immutable else "")
        try:
            return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise RegistryError(f"cannot open the registry ({exc})", self._where) from None

    # -- opening -------------------------------------------------------------------------

    def _check_header(self) -> None:
        """Refuse a non-empty file whose first 16 bytes are not SQLite's magic string."""
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(len(_SQLITE_MAGIC))
        except OSError as exc:
            raise RegistryError(f"cannot read the registry ({exc.strerror or exc})", self._where) from None
        if head and head != _SQLITE_MAGIC:
            raise RegistryError("not an hnn registry (not an SQLite database, or corrupt); "
                                "the file was left unchanged", self._where)

    def _init_schema(self) -> None:
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if "models" in tables:
            if version != SCHEMA_VERSION:
                raise RegistryError(f"registry schema version {version}, this hnn reads version {SCHEMA_VERSION}",
                                    self._where)
        elif tables - {"sqlite_sequence"}:
            raise RegistryError("an SQLite database, but not an hnn registry; the file was left unchanged",
                                self._where)
        if self.readonly:
            self.empty = "models" not in tables
            return
        mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # pragma: no cover - e.g. a file system without shared memory
            raise RegistryError(f"cannot switch the registry to WAL mode (got {mode})", self._where)
        if "models" not in tables:
            with self.write() as conn:
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        conn.execute(stmt)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the connection (idempotent)."""
        try:
            self.conn.close()
        except sqlite3.Error:  # pragma: no cover
            pass

    # -- transactions --------------------------------------------------------------------

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn SQLite errors into one-line :class:`RegistryError` naming the file."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "locked" in text or "busy" in text:
                raise RegistryError(f"the registry is locked by another process (waited {BUSY_TIMEOUT_S:.0f} s)",
                                    self._where) from None
            raise RegistryError(f"registry error: {text}", self._where) from None
        except sqlite3.DatabaseError as exc:  # malformed image, not a database, ...
            raise RegistryError(f"corrupt registry ({exc}); the file was left unchanged", self._where) from None

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``): committed when the block ends, rolled back on any error.

        Raises:
            RegistryError: the store was opened read-only.
        """
        if self.readonly:
            raise RegistryError("the registry was opened read-only", self._where)
        with self.errors():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version``: changes when another connection commits (O(1))."""
        with self.errors():
            return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    # -- queries -------------------------------------------------------------------------

    def find_sha(self, sha256: str, hasher_version: str) -> Entry | None:
        """The entry with this sha256 and hasher version, or ``None``."""
        if self.empty:
            return None
        with self.errors():
            row = self.conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM models WHERE sha256 = ? AND hasher_version = ?",
                                    (sha256, hasher_version)).fetchone()
        return _entry_from_row(row) if row else None

    def find_source(self, source: str, hasher_version: str) -> Entry | None:
        """The first entry with this source and hasher version, or ``None``."""
        if self.empty:
            return None
        with self.errors():
            row = self.conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM models WHERE source = ? AND hasher_version = ? ORDER BY id LIMIT 1",
                (source, hasher_version)).fetchone()
        return _entry_from_row(row) if row else None

    def insert(self, entries: Iterable[Entry], on_duplicate: str = "error") -> list[tuple[Entry, bool]]:
        """Store entries in ONE transaction.

        Args:
            entries: records to store (their ``id`` is ignored). Each must carry a hasher version.
            on_duplicate: what to do with a record whose (sha256, hasher version) is stored
                already: ``"error"`` raises :class:`DuplicateError` (and nothing of this call is
                stored), ``"skip"`` leaves it out.
        Returns:
            per record, in order: (the stored entry with its id, True) or (the entry already
            stored, False) for a skipped duplicate.
        Raises:
            DuplicateError: a duplicate with ``on_duplicate="error"``.
            RegistryError: a name already used by another model of the same hasher version (also
                within ``entries``), a record without hasher version, or a database error. On
                any error the whole call is rolled back.
        """
        if on_duplicate not in ("error", "skip"):
            raise ValueError(f"on_duplicate must be 'error' or 'skip', got {on_duplicate!r}")
        rows = [(e, _entry_row(e)) for e in entries]
        out: list[tuple[Entry, bool]] = []
        sql = f"INSERT INTO models ({', '.join(_INSERT_COLUMNS)}) VALUES ({', '.join('?' * len(_INSERT_COLUMNS))})"
        with self.write() as conn:
            conn.execute("SAVEPOINT bulk")
            try:  # fast path: no conflict at all
                conn.executemany(sql, [r for _, r in rows])
                last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
                first = last - len(rows) + 1
                # AUTOINCREMENT inside one transaction gives consecutive ids.
                out = [(_with_id(e, r, first + i), True) for i, (e, r) in enumerate(rows)]
                conn.execute("RELEASE bulk")
                return out
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK TO bulk")
                conn.execute("RELEASE bulk")
            for e, r in rows:  # slow path: find the conflict and say which it is
                dup = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM models WHERE sha256 = ? AND hasher_version = ?",
                                   (e.sha256, e.hasher_version)).fetchone()
                if dup:
                    existing = _entry_from_row(dup)
                    if on_duplicate == "skip":
                        out.append((existing, False))
                        continue
                    raise DuplicateError(f"{e.source}: already registered as {existing.name!r} (id {existing.id}, "
                                         f"same sha256 and hasher version)", self._where, existing)
                clash = conn.execute("SELECT id, source, sha256 FROM models WHERE name = ? AND hasher_version = ?",
                                     (e.name, e.hasher_version)).fetchone()
                if clash:
                    raise RegistryError(f"the name {e.name!r} is taken by another model (id {clash[0]}, "
                                        f"source {clash[1]}, sha256 {clash[2][:12]}...); pick another name",
                                        self._where)
                cur = conn.execute(sql, r)
                out.append((_with_id(e, r, cur.lastrowid), True))
        return out

    def delete_name(self, name: str, hasher_version: str | None = None) -> list[Entry]:
        """Delete the entries called ``name`` (of one hasher version, or of all) in one transaction.

        Returns:
            the deleted entries (empty if none had that name).
        """
        where, args = "name = ?", [name]
        if hasher_version is not None:
            where += " AND hasher_version = ?"
            args.append(hasher_version)
        with self.write() as conn:
            rows = conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM models WHERE {where} ORDER BY id", args).fetchall()
            conn.execute(f"DELETE FROM models WHERE {where}", args)
        return [_entry_from_row(r) for r in rows]

    def entries(self, hasher_version: str | None = None, name: str | None = None) -> list[Entry]:
        """Stored entries in insertion order, optionally only one hasher version and/or one name."""
        clauses, args = [], []
        if hasher_version is not None:
            clauses.append("hasher_version = ?")
            args.append(hasher_version)
        if name is not None:
            clauses.append("name = ?")
            args.append(name)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        if self.empty:
            return []
        with self.errors():
            rows = self.conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM models {where} ORDER BY id", args).fetchall()
        return [_entry_from_row(r) for r in rows]

    def entries_by_id(self, ids: Sequence[int], conn: sqlite3.Connection | None = None) -> dict[int, Entry]:
        """The entries with these ids (missing ids are absent from the result)."""
        out: dict[int, Entry] = {}
        ids = [int(i) for i in ids]
        c = conn or self.conn
        with self.errors():
            for s in range(0, len(ids), 500):
                chunk = ids[s : s + 500]
                q = f"SELECT {', '.join(_COLUMNS)} FROM models WHERE id IN ({', '.join('?' * len(chunk))})"
                for row in c.execute(q, chunk):
                    out[row[0]] = _entry_from_row(row)
        return out

    def code_kinds(self) -> dict[tuple[int, str], int]:
        """Number of entries per (bits, hasher version)."""
        if self.empty:
            return {}
        with self.errors():
            rows = self.conn.execute(
                "SELECT bits, hasher_version, count(*) FROM models GROUP BY hasher_version, bits").fetchall()
        return {(int(b), v): int(n) for b, v, n in rows}

    def count(self) -> int:
        """Number of stored entries."""
        if self.empty:
            return 0
        with self.errors():
            return int(self.conn.execute("SELECT count(*) FROM models").fetchone()[0])

    def load_codes(self, bits: int, hasher_version: str, conn: sqlite3.Connection | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
        """All codes of one kind, packed, in insertion order.

        Returns:
            (packed, ids): packed is uint8 of shape (N, ceil(Q/8)), each row
            :meth:`ModelHash.to_bytes` of the code; ids is int64 (N,), increasing.
        """
        c = conn or self.conn
        if self.empty:
            return np.zeros((0, (bits + 7) // 8), dtype=np.uint8), np.zeros(0, dtype=np.int64)
        with self.errors():
            rows = c.execute("SELECT id, hash FROM models WHERE hasher_version = ? AND bits = ? ORDER BY id",
                             (hasher_version, bits)).fetchall()
        nbytes = (bits + 7) // 8
        if not rows:
            return np.zeros((0, nbytes), dtype=np.uint8), np.zeros(0, dtype=np.int64)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        pad = "0" if (bits // 4) % 2 else ""
        text = pad + pad.join(r[1] for r in rows)
        packed = np.frombuffer(bytes.fromhex(text), dtype=np.uint8).reshape(len(rows), nbytes)
        return packed, ids


def _with_id(e: Entry, row: tuple, id_: int) -> Entry:
    return Entry(int(id_), e.name, e.label, e.framework, e.source, e.sha256, e.hash, e.nodes, e.edges,
                 e.flops, e.params, row[-1])
