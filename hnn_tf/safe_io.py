"""Reading files from strangers and writing files safely.

hnn hashes uploads that nobody vouches for, so every read is bounded and every write is
atomic (README "Security: what a file can do"):

- **Regular files only.** :func:`open_regular` opens with ``O_NONBLOCK`` (a FIFO cannot
  block the open) and checks the *opened* descriptor with ``fstat``: a character device
  (``/dev/zero``), a FIFO, a socket or a directory is refused with one clear line. A
  symbolic link is followed; what it points to must be a regular file.
- **Bounded sizes.** :class:`Limits` holds the documented limits (file bytes, zip members
  and their uncompressed sizes, JSON config size and nesting, ONNX nodes, seconds per
  model); each can be set through an environment variable. Zip archives are checked from
  their central directory before any member is inflated (:func:`check_zip`).
- **Atomic writes.** :func:`atomic_write` writes a fresh temporary file (``O_EXCL``, random
  name) in the target's folder and renames it over the target, and refuses a target that
  exists and is not a regular file: a planted symlink or a device path is never written
  through.

Every error is a :class:`~hnn_tf.errors.ConversionError` (or :class:`~hnn_tf.errors.HNNError`
for writes) that names the file.
"""

from __future__ import annotations

import io
import os
import signal
import stat
import tempfile
import threading
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from hnn_tf.errors import ConversionError, HNNError

__all__ = [
    "Limits",
    "atomic_write",
    "current_limits",
    "check_directory",
    "check_zip",
    "describe_mode",
    "json_depth",
    "open_regular",
    "open_zip",
    "read_regular",
    "read_zip_member",
    "TimeLimitExceeded",
    "memory_limit",
    "time_limit",
]

MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True)
class Limits:
    """The bounds hnn puts on one input (README "Limits"); env variables override the defaults.

    Attributes:
        file_bytes: largest model file read, bytes (``HNN_MAX_FILE_MB``, default 4096 MiB).
        zip_members: most members of a zip archive (``HNN_MAX_ZIP_MEMBERS``, default 100,000).
        zip_bytes: largest total uncompressed size of a zip archive's members, bytes
            (``HNN_MAX_UNZIPPED_MB``, default 8192 MiB).
        config_bytes: largest JSON config read (a Keras ``config.json``, a ``.pt2``
            program), bytes (``HNN_MAX_CONFIG_MB``, default 256 MiB).
        config_depth: deepest nesting of a JSON config (``HNN_MAX_CONFIG_DEPTH``, default 200).
        nodes: most ONNX nodes in a model graph, subgraphs included (``HNN_MAX_NODES``,
            default 1,000,000).
        tensor_bytes: largest tensor a model may declare, bytes (``HNN_MAX_TENSOR_MB``,
            default 16384 MiB); a declared shape beyond it is refused rather than allocated.
        timeout_s: seconds the CLI gives one model before it gives up (``HNN_TIMEOUT_S``,
            default 600; 0 = no limit).
        memory_bytes: data memory the CLI lets one model add to the process, bytes
            (``HNN_MAX_MEMORY_MB``, default 16384 MiB; 0 = no limit): allocations past it fail
            with the library's out-of-memory error instead of exhausting the machine.
    """

    file_bytes: int = 4096 * MiB
    zip_members: int = 100_000
    zip_bytes: int = 8192 * MiB
    config_bytes: int = 256 * MiB
    config_depth: int = 200
    nodes: int = 1_000_000
    tensor_bytes: int = 16384 * MiB
    timeout_s: float = 600.0
    memory_bytes: int = 16384 * MiB

    _ENV = {
        "file_bytes": ("HNN_MAX_FILE_MB", MiB),
        "zip_members": ("HNN_MAX_ZIP_MEMBERS", 1),
        "zip_bytes": ("HNN_MAX_UNZIPPED_MB", MiB),
        "config_bytes": ("HNN_MAX_CONFIG_MB", MiB),
        "config_depth": ("HNN_MAX_CONFIG_DEPTH", 1),
        "nodes": ("HNN_MAX_NODES", 1),
        "tensor_bytes": ("HNN_MAX_TENSOR_MB", MiB),
        "timeout_s": ("HNN_TIMEOUT_S", 1),
        "memory_bytes": ("HNN_MAX_MEMORY_MB", MiB),
    }

    @classmethod
    def from_env(cls) -> "Limits":
        """The defaults, each replaced by its environment variable when that is set.

        Raises:
            HNNError: a variable is set to something that is not a non-negative number.
        """
        values = {}
        for f in fields(cls):
            env, unit = cls._ENV[f.name]
            text = os.environ.get(env)
            if text is None or not text.strip():
                continue
            try:
                number = float(text)
            except ValueError:
                raise HNNError(f"{env}={text!r} is not a number") from None
            if number < 0:
                raise HNNError(f"{env}={text!r} must not be negative")
            values[f.name] = number * unit if f.name == "timeout_s" else int(number * unit)
        return cls(**values)


def current_limits() -> Limits:
    """The limits in force now (:meth:`Limits.from_env`, read at each call so tests can set them)."""
    return Limits.from_env()


class TimeLimitExceeded(BaseException):
    """A model took longer than its time limit (:func:`time_limit`).

    A ``BaseException``, like ``KeyboardInterrupt``, so that library code that catches
    ``Exception`` does not swallow it on its way out.

    Attributes:
        path: the file being read, if any; message: what happened.
    """

    def __init__(self, message: str, path: str | None = None):
        self.path, self.message = path, message
        super().__init__(f"{path}: {message}" if path else message)


@contextmanager
def time_limit(seconds: float | None, path: str | None = None):
    """Raise :class:`TimeLimitExceeded` in the block after ``seconds`` of wall time.

    Uses ``SIGALRM`` (``signal.setitimer``), so it works in the main thread of a POSIX
    process only; elsewhere, or with ``seconds`` 0 or None, the block runs without a limit.
    A call blocked inside native code is interrupted when it returns to Python.

    Args:
        seconds: the limit (default in the CLI: :attr:`Limits.timeout_s`).
        path: the file, for the message.
    """
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not seconds or seconds <= 0 or not usable:
        yield
        return

    def expire(signum, frame):
        raise TimeLimitExceeded(f"took longer than {seconds:g} s; gave up (HNN_TIMEOUT_S, --timeout)", path)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _data_size() -> int | None:
    """This process's data segment size in bytes (``VmData`` in ``/proc/self/status``: heap and
    private writable mappings, not shared libraries), None where unknown."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


@contextmanager
def memory_limit(extra_bytes: int | None):
    """Let the block add at most ``extra_bytes`` of data memory to the process (``RLIMIT_DATA``).

    The soft limit is set to the current data size (heap and private writable mappings;
    shared libraries loaded in the block do not count) plus ``extra_bytes``, and restored
    afterwards. An allocation past it fails inside the library that makes it (numpy
    ``MemoryError``, torch "can't allocate memory", TensorFlow ``ResourceExhaustedError``,
    onnxruntime "Failed to allocate"), which hnn reports as one error line, rather than
    growing until the machine's out-of-memory killer ends the process. Linux only; elsewhere,
    or with ``extra_bytes`` 0 or None, the block runs without a limit.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        resource = None
    now = _data_size()
    if not extra_bytes or extra_bytes <= 0 or resource is None or now is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    cap = now + int(extra_bytes)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft != resource.RLIM_INFINITY:
        cap = min(cap, soft)
    try:
        resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
    except (ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def describe_mode(mode: int) -> str:
    """What kind of file ``st_mode`` describes, in words (``"a FIFO"``, ``"a character device"``...)."""
    for test, words in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                        (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                        (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return words
    return "not a regular file"


def _size_words(n: int) -> str:
    return f"{n / MiB:.1f} MiB" if n >= MiB else f"{n} bytes"


def open_regular(path: str | os.PathLike, max_bytes: int | None = None) -> tuple[int, os.stat_result]:
    """Open ``path`` for reading if it is a regular file of at most ``max_bytes``.

    The open never blocks (``O_NONBLOCK``), and the check is made on the opened descriptor,
    so the file that is checked is the file that is read.

    Args:
        path: the file (a symbolic link is followed).
        max_bytes: the size limit; default :attr:`Limits.file_bytes`.
    Returns:
        (fd, stat) — the caller closes the descriptor (``os.close``); it is in blocking mode.
    Raises:
        ConversionError: missing, unreadable, not a regular file, or larger than the limit.
    """
    where = str(path)
    limit = current_limits().file_bytes if max_bytes is None else max_bytes
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ConversionError("no such file", path=where) from None
    except OSError as exc:
        raise ConversionError(f"cannot open the file ({exc.strerror or exc})", path=where) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ConversionError(f"not a regular file ({describe_mode(st.st_mode)}); only regular files are read",
                                  path=where)
        if st.st_size > limit:
            raise ConversionError(f"the file has {_size_words(st.st_size)}, more than the limit of "
                                  f"{_size_words(limit)} (HNN_MAX_FILE_MB)", path=where)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_regular(path: str | os.PathLike, max_bytes: int | None = None, head: int | None = None) -> bytes:
    """The bytes of a regular file, at most ``max_bytes`` (see :func:`open_regular`).

    Args:
        path: the file.
        max_bytes: the size limit; default :attr:`Limits.file_bytes`.
        head: read only the first ``head`` bytes (the size limit still applies to the file).
    Returns:
        the bytes read.
    Raises:
        ConversionError: as :func:`open_regular`, a read error, or a file that grew past the
            limit while it was read.
    """
    fd, st = open_regular(path, max_bytes)
    limit = current_limits().file_bytes if max_bytes is None else max_bytes
    want = min(head, limit) if head is not None else limit
    try:
        with os.fdopen(fd, "rb", closefd=True) as fh:
            data = fh.read(want + (0 if head is not None else 1))
    except OSError as exc:
        raise ConversionError(f"cannot read the file ({exc.strerror or exc})", path=str(path)) from None
    if head is None and len(data) > limit:
        raise ConversionError(f"the file grew past the limit of {_size_words(limit)} while it was read",
                              path=str(path))
    return data


def check_directory(path: str | os.PathLike, max_entries: int | None = None, max_bytes: int | None = None) -> int:
    """Check a model directory (a SavedModel) before any library reads it.

    Every entry must be a regular file or a directory (symbolic links, devices and FIFOs are
    refused); the entry count and total size are bounded.

    Returns:
        the total size of the files, bytes.
    Raises:
        ConversionError: a special or linked entry, too many entries, or too many bytes.
    """
    limits = current_limits()
    max_entries = limits.zip_members if max_entries is None else max_entries
    max_bytes = limits.zip_bytes if max_bytes is None else max_bytes
    root = Path(path)
    total, count = 0, 0
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            count += 1
            if count > max_entries:
                raise ConversionError(f"the directory holds more than {max_entries} entries (HNN_MAX_ZIP_MEMBERS)",
                                      path=str(root))
            full = os.path.join(folder, name)
            st = os.lstat(full)
            if stat.S_ISDIR(st.st_mode):
                continue
            if not stat.S_ISREG(st.st_mode):
                rel = os.path.relpath(full, root)
                raise ConversionError(f"{rel} is {describe_mode(st.st_mode)}; a model directory may hold only "
                                      "regular files and folders", path=str(root))
            total += st.st_size
            if total > max_bytes:
                raise ConversionError(f"the directory holds more than {_size_words(max_bytes)} "
                                      "(HNN_MAX_UNZIPPED_MB)", path=str(root))
    return total


def check_zip(zf: zipfile.ZipFile, where: str, limits: Limits | None = None) -> list[zipfile.ZipInfo]:
    """Check a zip archive's central directory before anything is inflated.

    Refuses too many members, a total declared uncompressed size over the limit, member
    names that are absolute or climb out of the archive (``..``), and encrypted members.
    Python's :mod:`zipfile` never inflates a member past its declared size, so these bounds
    hold for every later read through it.

    Returns:
        the members (``ZipInfo``), in archive order.
    Raises:
        ConversionError: a bound is broken (the message names it).
    """
    limits = limits or current_limits()
    infos = zf.infolist()
    if len(infos) > limits.zip_members:
        raise ConversionError(f"the archive has {len(infos)} members, more than the limit of {limits.zip_members} "
                              "(HNN_MAX_ZIP_MEMBERS)", path=where)
    total = 0
    for info in infos:
        name = info.filename
        if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/") or ":" in name.split("/")[0]:
            raise ConversionError(f"the archive member {name!r} points outside the archive", path=where)
        if info.flag_bits & 0x1:
            raise ConversionError(f"the archive member {name!r} is encrypted", path=where)
        total += info.file_size
        if total > limits.zip_bytes:
            raise ConversionError(f"the archive inflates to more than {_size_words(limits.zip_bytes)} "
                                  "(HNN_MAX_UNZIPPED_MB)", path=where)
    return infos


def read_zip_member(zf: zipfile.ZipFile, name: str, where: str, max_bytes: int | None = None) -> bytes:
    """Inflate one member, refusing it when its declared size is above ``max_bytes``
    (default :attr:`Limits.config_bytes`).

    Raises:
        ConversionError: no such member, over the limit, or a corrupt member (bad CRC).
    """
    limit = current_limits().config_bytes if max_bytes is None else max_bytes
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise ConversionError(f"the archive has no member {name!r}", path=where) from None
    if info.file_size > limit:
        raise ConversionError(f"the archive member {name!r} inflates to {_size_words(info.file_size)}, more than "
                              f"the limit of {_size_words(limit)} (HNN_MAX_CONFIG_MB)", path=where)
    try:
        return zf.read(info)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError, NotImplementedError) as exc:
        raise ConversionError(f"the archive member {name!r} is corrupt ({exc})", path=where) from None


def open_zip(data: bytes, where: str) -> zipfile.ZipFile:
    """A :class:`zipfile.ZipFile` over bytes already read, its central directory checked (:func:`check_zip`).

    Raises:
        ConversionError: not a readable zip archive, or a bound is broken.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise ConversionError(f"not a readable zip archive ({exc})", path=where) from None
    check_zip(zf, where)
    return zf


def json_depth(value: object, limit: int) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 1), computed without recursion.

    Stops counting once ``limit`` is passed, so a hostile value costs at most its size.
    """
    deepest, stack = 0, [(value, 1)]
    while stack:
        x, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(x, dict):
            stack.extend((v, d + 1) for v in x.values())
        elif isinstance(x, list):
            stack.extend((v, d + 1) for v in x)
    return deepest


def atomic_write(path: str | os.PathLike, data: bytes | str, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` atomically: a fresh temporary file in the same folder, renamed over it.

    The temporary file is created with ``O_EXCL`` under a random name (``tempfile.mkstemp``),
    so nothing planted in the folder is followed; the rename replaces the directory entry,
    so a reader sees the old file or the new one, never half of one.

    Args:
        path: the target file.
        data: bytes, or text (written as UTF-8).
        mode: permission bits of the new file; default: those of the file it replaces, else
            ``0o666`` less the umask.
    Returns:
        the target path.
    Raises:
        HNNError: the target exists and is not a regular file (a symbolic link, a device, a
            FIFO, a folder), or the folder cannot be written.
    """
    target = Path(path)
    where = str(target)
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise HNNError(f"cannot inspect the target ({exc.strerror or exc})", where) from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise HNNError(f"refusing to write: the target exists and is {describe_mode(st.st_mode)}, "
                       "not a regular file", where)
    if mode is None:
        if st is not None:
            mode = stat.S_IMODE(st.st_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
    payload = data.encode("utf-8") if isinstance(data, str) else data
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise HNNError(f"cannot write in the folder ({exc.strerror or exc})", where) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise HNNError(f"cannot write the file ({exc.strerror or exc})", where) from None
    return target
