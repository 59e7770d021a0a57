"""The converter registry: picks the converter for a model object or file and runs it.

A :class:`Converter` knows one framework. It says whether it accepts a Python
object (:meth:`Converter.accepts_object`), whether it recognises a file from its
contents (:meth:`Converter.accepts_file`, given a :class:`FileInfo` with the first
bytes and, for zip archives, the member names) or from its suffix
(:attr:`Converter.suffixes`), and turns the model into an ``onnx.ModelProto``
(:meth:`Converter.convert`).

Adding a framework means writing one module that defines a converter and calls
:func:`register` at import time, and importing that module from
``converters/__init__.py``. Converter modules import their framework (torch,
tensorflow, ...) only inside their methods, so that importing :mod:`converters`
stays cheap.

A separate package can add a framework without touching this project: it declares its
converter in the entry-point group ``hnn.converters`` (:data:`PLUGIN_GROUP`), e.g. in its
``pyproject.toml``::

    [project.entry-points."hnn.converters"]
    myformat = "hnn_myformat:MyFormatConverter"

The value names a :class:`Converter` subclass, an instance, a function returning one, or a
module that calls :func:`register` on import. :func:`load_plugins` loads them, once, the first
time the registry is asked for a converter.
"""

from __future__ import annotations

import os
import stat
import types
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hnn_tf.errors import ConversionError
from hnn_tf.safe_io import check_zip, open_regular

if TYPE_CHECKING:  # pragma: no cover - typing only
    import onnx

#: Number of leading bytes of a file handed to the content sniffers.
HEAD_BYTES = 64

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class FileInfo:
    """What the registry learnt about a model file before choosing a converter.

    Attributes:
        path: the file.
        suffix: its lower-case suffix with the dot (``".pt"``), ``""`` if none.
        head: its first :data:`HEAD_BYTES` bytes (fewer for a shorter file).
        zip_names: the member names if the file is a readable zip archive, else ``None``.
        dir_names: for a directory (a TensorFlow SavedModel, say), the names of its entries;
            ``None`` for a file.
    """

    path: Path
    suffix: str
    head: bytes
    zip_names: tuple[str, ...] | None = None
    dir_names: tuple[str, ...] | None = None

    @property
    def is_dir(self) -> bool:
        """True if the path is a directory (``head`` is then empty)."""
        return self.dir_names is not None

    @property
    def is_zip(self) -> bool:
        """True if the file starts with the zip magic (it may still be a corrupt archive)."""
        return self.head.startswith(ZIP_MAGIC)

    @property
    def is_hdf5(self) -> bool:
        """True if the file starts with the HDF5 signature."""
        return self.head.startswith(HDF5_MAGIC)

    @property
    def is_pickle(self) -> bool:
        """True if the file starts like a Python pickle of protocol 2 to 5."""
        return len(self.head) >= 2 and self.head[0] == 0x80 and 2 <= self.head[1] <= 5

    def zip_basenames(self) -> set[str]:
        """Member paths of the zip archive with their first folder removed.

        PyTorch archives put every member under one top folder named after the
        file (``resnet/data.pkl``); this returns ``{"data.pkl", ...}``. Members at the
        archive root are kept as they are. Empty if the file is not a zip archive.
        """
        out: set[str] = set()
        for name in self.zip_names or ():
            out.add(name)
            if "/" in name:
                out.add(name.split("/", 1)[1])
        return out


def inspect_file(path: str | os.PathLike) -> FileInfo:
    """Read the first bytes (and zip member names) of ``path`` for the sniffers.

    Only regular files (or directories, for SavedModels) are read: a FIFO, a device or a
    socket is refused without blocking, and a file above the size limit is refused too
    (:func:`hnn_tf.safe_io.open_regular`). A zip archive's central directory is checked
    against the member limits (:func:`hnn_tf.safe_io.check_zip`).

    A directory gives a :class:`FileInfo` with its entry names in ``dir_names`` and an
    empty ``head``; only a converter that recognises the directory (a SavedModel) takes it.

    Raises:
        ConversionError: the path does not exist, cannot be read, is not a regular file or
            a directory, is too large, or is a zip archive over the member limits.
    """
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise ConversionError("no such file", path=str(p)) from None
    except OSError as exc:
        raise ConversionError(f"cannot read the file ({exc.strerror or exc})", path=str(p)) from None
    if stat.S_ISDIR(st.st_mode):
        try:
            names = tuple(sorted(os.listdir(p)))
        except OSError as exc:
            raise ConversionError(f"cannot read the directory ({exc.strerror or exc})", path=str(p)) from exc
        return FileInfo(path=p, suffix=p.suffix.lower(), head=b"", dir_names=names)
    fd, _ = open_regular(p)
    names = None
    with os.fdopen(fd, "rb") as fh:
        try:
            head = fh.read(HEAD_BYTES)
        except OSError as exc:
            raise ConversionError(f"cannot read the file ({exc.strerror or exc})", path=str(p)) from exc
        if head.startswith(ZIP_MAGIC):
            try:
                fh.seek(0)
                with zipfile.ZipFile(fh) as zf:
                    check_zip(zf, str(p))
                    names = tuple(zf.namelist())
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
                names = None  # corrupt archive: the suffix decides, the loader reports it
    return FileInfo(path=p, suffix=p.suffix.lower(), head=head, zip_names=names)


class Converter:
    """One framework's route to ONNX. Subclass it and :func:`register` an instance.

    Attributes:
        name: the framework name reported by :func:`detect_framework` (``"pytorch"``).
        aliases: other names accepted for ``framework=`` (``("torch",)``).
        suffixes: lower-case file suffixes this converter claims when no converter
            recognised the file's contents (``(".pt", ".pth")``).
        options: names of the keyword options :meth:`convert` understands.
    """

    name: str = ""
    aliases: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    options: frozenset[str] = frozenset()

    def accepts_object(self, obj: Any) -> bool:
        """True if ``obj`` is an in-memory model of this framework.

        Must not import the framework: look at ``type(obj).__mro__`` names instead.
        """
        return False

    def accepts_file(self, info: FileInfo) -> bool:
        """True if the file's contents (magic bytes, zip members), or a directory's entries
        (``info.dir_names``), show it is this framework's."""
        return False

    def accepts_spec(self, text: str) -> bool:
        """True if ``text``, a string that names no existing file, is a model name this
        converter builds (``"timm:convnext_tiny"``). Must be cheap and build nothing."""
        return False

    def accepts_suffix(self, info: FileInfo) -> bool:
        """True if the file's suffix is one of :attr:`suffixes` (never for a directory)."""
        return not info.is_dir and info.suffix in self.suffixes

    def convert(self, model_or_path: Any, **options: Any) -> "onnx.ModelProto":
        """Convert a model object or a file (a :class:`pathlib.Path`) to an ONNX model.

        Raises:
            ConversionError: the model cannot be loaded or exported.
        """
        raise NotImplementedError

    def weights_digest(self, obj: Any) -> bytes | None:
        """A digest of an in-memory model's weight values, or None.

        The ONNX export of a model object leaves its weights out by default (a hash reads
        shapes), so two trainings of one architecture export to the same bytes; the registry's
        sha256 of a model object (:func:`hnn_tf.hashing.model_graph`) adds this digest so that
        they stay two entries. The default, None, says the export holds the weights itself.
        """
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


_REGISTRY: dict[str, Converter] = {}

#: The entry-point group in which other packages declare converters.
PLUGIN_GROUP = "hnn.converters"
_plugins_loaded = False


def load_plugins(force: bool = False) -> list[str]:
    """Register the converters that installed packages declare in the ``hnn.converters`` group.

    Runs once per process (again with ``force=True``); the registry calls it before it picks
    a converter. An entry point may name a :class:`Converter` subclass (instantiated), an
    instance, a function returning one, or a module that registers its converters on import.
    A plugin that fails to load, or whose name clashes with a registered converter, is
    skipped with a warning: one broken package must not break every conversion.

    Returns:
        the names of the converters registered by this call.
    """
    global _plugins_loaded
    if _plugins_loaded and not force:
        return []
    _plugins_loaded = True
    from importlib.metadata import entry_points

    added: list[str] = []
    for ep in entry_points(group=PLUGIN_GROUP):
        try:
            before = set(_REGISTRY)
            obj = ep.load()
            if isinstance(obj, type) and issubclass(obj, Converter):
                obj = obj()
            elif callable(obj) and not isinstance(obj, (Converter, types.ModuleType)):
                obj = obj()
            if isinstance(obj, Converter):
                current = _REGISTRY.get(obj.name)
                if current is not obj and type(current) is not type(obj):  # a reload keeps the first
                    register(obj)
            elif not isinstance(obj, types.ModuleType):
                raise TypeError(f"{ep.value} is a {type(obj).__name__}, not a Converter")
            added.extend(n for n in _REGISTRY if n not in before)
        except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, not fatal
            warnings.warn(
                f"hnn: converter plugin {ep.name!r} ({ep.value}) was not loaded: {exception_summary(exc)}",
                RuntimeWarning,
                stacklevel=2,
            )
    return added


def register(converter: Converter, *, replace: bool = False) -> Converter:
    """Add ``converter`` to the registry; returns it, so it can be used as a one-liner.

    Converters are tried in registration order when detecting a framework.

    Raises:
        ValueError: the converter has no name, or a converter of that name (or alias)
            is registered already and ``replace`` is false.
    """
    if not converter.name:
        raise ValueError("a converter needs a name")
    names = {converter.name, *converter.aliases}
    for other in list(_REGISTRY.values()):
        if other.name == converter.name and replace:
            del _REGISTRY[other.name]
            continue
        clash = names & {other.name, *other.aliases}
        if clash:
            raise ValueError(f"converter name {sorted(clash)[0]!r} is already registered by {other!r}")
    _REGISTRY[converter.name] = converter
    return converter


def unregister(name: str) -> Converter:
    """Remove the converter registered under ``name`` (exact name, not an alias) and return it.

    Raises:
        KeyError: no converter has that name.
    """
    return _REGISTRY.pop(name)


def available_frameworks() -> list[str]:
    """Names of the registered converters (plugins included), in detection order."""
    load_plugins()
    return list(_REGISTRY)


def get_converter(framework: str) -> Converter:
    """The converter registered under ``framework`` (a name or alias, case-insensitive).

    Raises:
        ConversionError: no converter has that name.
    """
    load_plugins()
    key = str(framework).lower()
    for conv in _REGISTRY.values():
        if key == conv.name or key in conv.aliases:
            return conv
    raise ConversionError(
        f"unknown framework {framework!r}; known: {', '.join(available_frameworks()) or 'none'}"
    )


def exception_summary(exc: BaseException, limit: int = 200) -> str:
    """``"Type: first line of the message"`` of a library exception, cut to ``limit`` characters.

    Converters put this into their :class:`ConversionError` messages so that the
    cause shows in one line.
    """
    text = str(exc).strip()
    line = f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


def parse_input_shapes(value: Any, path: str | None = None) -> list[tuple[int, ...]]:
    """Normalise the ``input_shape`` option to a list of shapes, one per model input.

    Accepts one shape (a sequence of positive ints, batch dimension included) or a
    sequence of such shapes.

    Raises:
        ConversionError: the value is not a shape or a sequence of shapes.
    """
    def is_shape(v: Any) -> bool:
        return (
            isinstance(v, (tuple, list))
            and len(v) > 0
            and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in v)
        )

    if is_shape(value):
        return [tuple(value)]
    if isinstance(value, (tuple, list)) and value and all(is_shape(v) for v in value):
        return [tuple(v) for v in value]
    raise ConversionError(
        f"bad input_shape {value!r}: expected a tuple of positive ints such as (1, 3, 224, 224) "
        "or a list of such tuples",
        path=path,
    )


def _is_path(model_or_path: Any) -> bool:
    return isinstance(model_or_path, (str, os.PathLike))


def _spec_converter(model_or_path: Any) -> Converter | None:
    """The converter that builds the model a string names (:meth:`Converter.accepts_spec`),
    when the string is no existing path; else None."""
    if not isinstance(model_or_path, str) or os.path.lexists(model_or_path):
        return None
    return next((c for c in _REGISTRY.values() if c.accepts_spec(model_or_path)), None)


def is_spec(model_or_path: Any) -> bool:
    """True if ``model_or_path`` is a model name a converter builds rather than a file path."""
    load_plugins()
    return _spec_converter(model_or_path) is not None


def _describe(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _pick(model_or_path: Any) -> tuple[Converter, Any, str | None]:
    """Choose the converter; returns it, the object or Path to convert, and the path text."""
    load_plugins()
    spec = _spec_converter(model_or_path)
    if spec is not None:
        return spec, model_or_path, model_or_path
    if _is_path(model_or_path):
        info = inspect_file(model_or_path)
        for conv in _REGISTRY.values():  # contents first: they do not lie about the format
            if conv.accepts_file(info):
                return conv, info.path, str(info.path)
        for conv in _REGISTRY.values():
            if conv.accepts_suffix(info):
                return conv, info.path, str(info.path)
        if info.is_dir:
            raise ConversionError(
                "is a directory, and not one a converter recognises (a TensorFlow SavedModel "
                "holds saved_model.pb); expected a model file or such a directory",
                path=str(info.path),
            )
        known = sorted({s for c in _REGISTRY.values() for s in c.suffixes})
        raise ConversionError(
            "unknown model format: neither the contents nor the suffix "
            f"{info.suffix or '(none)'!r} match a known framework (suffixes: {', '.join(known)})",
            path=str(info.path),
        )
    for conv in _REGISTRY.values():
        if conv.accepts_object(model_or_path):
            return conv, model_or_path, None
    raise ConversionError(
        f"unsupported model object of type {_describe(model_or_path)}; "
        f"expected a model of one of: {', '.join(available_frameworks())}, or a file path"
    )


def detect_framework(model_or_path: Any) -> str:
    """Name of the framework of a model object or file, e.g. ``"pytorch"``, ``"keras"``, ``"onnx"``.

    Files are recognised by their contents first (zip members, HDF5 signature,
    ONNX protobuf header, pickle header) and by their suffix second. Nothing is
    loaded or unpickled.

    Raises:
        ConversionError: the file is missing or unreadable, or no converter recognises it.
    """
    return _pick(model_or_path)[0].name


def _check_options(options: dict[str, Any], path: str | None) -> None:
    load_plugins()
    known = set().union(*(c.options for c in _REGISTRY.values())) if _REGISTRY else set()
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConversionError(
            f"unknown option {unknown[0]!r}; known options: {', '.join(sorted(known))}", path=path
        )


def to_onnx(model_or_path: Any, framework: str | None = None, **options: Any) -> "onnx.ModelProto":
    """Convert a trained model (object or file) to an ``onnx.ModelProto``.

    Args:
        model_or_path: a model object (``torch.nn.Module``, ``torch.export.ExportedProgram``,
            ``keras.Model`` of Keras 3 or tf_keras, a loaded TensorFlow SavedModel or concrete
            function, a Flax NNX module, ``onnx.ModelProto``) or a path to a
            ``.pt``/``.pth`` (TorchScript, or pickled module with ``trust_pickle``), ``.pt2``,
            ``.keras``, ``.h5``, ``.tflite`` or ``.onnx`` file, or a SavedModel directory.
            Converters of installed plugins (entry-point group ``hnn.converters``) add more.
        framework: force a converter by name (``"pytorch"``, ``"keras"``, ``"saved_model"``,
            ``"tflite"``, ``"jax"``, ``"onnx"`` or an alias) instead of detecting it; a plain
            JAX function needs ``framework="jax"``.
        **options: converter options. Unknown names are an error; an option that the
            chosen converter does not use is ignored. Built-in options:

            - ``opset`` (int, default 17): ONNX opset of the export (ignored for ONNX files).
            - ``input_shape`` (tuple of ints, or a list of them for several inputs): shape of
              the all-zeros trigger input, batch dimension included. Defaults: PyTorch
              ``(1, 3, 224, 224)`` (``(1, 3, 299, 299)`` for Inception3); Keras: the model's
              input shapes with batch 1 and unknown sizes 224.
            - ``trust`` (bool, default False): the caller vouches for the file, so loaders that
              run code from it are allowed: pickled PyTorch modules, TorchScript archives,
              SavedModel directories, Keras configs that ``safe_mode`` refuses, and ``.pt2``
              archives as ``torch.export.load`` reads them (README "Security").
              ``trust_pickle`` is an older name for it (PyTorch files).
            - ``safe_mode`` (bool, default True): Keras only; False allows Lambda layers
              whose Python code is stored in the file (loading runs that code).
            - ``keep_weights`` (bool, default False): PyTorch, Keras and SavedModel; keep the
              weights as initializers. By default they are left out (each parameter tensor
              is a ``ConstantOfShape`` of zeros of its shape), which is what a hash needs and
              several times faster (:mod:`hnn_tf.converters.tf_graph`).
            - ``signature`` (str): SavedModel only; the serving signature to convert.

    Returns:
        The ONNX model; parameter tensors are ``ConstantOfShape`` nodes of their shapes unless
        ``keep_weights`` is set (ONNX files and TFLite keep what they store).

    Raises:
        ConversionError: missing file, not a regular file, a file over a limit
            (:class:`hnn_tf.safe_io.Limits`), unknown format, corrupt file, a file refused
            because loading it would run its code (the message starts with ``refused:``),
            weights-only checkpoint, or export failure; the message names the file.
    """
    if framework is not None:
        conv = get_converter(framework)
        if _spec_converter(model_or_path) is conv:
            target, path = model_or_path, model_or_path
        elif _is_path(model_or_path):
            info = inspect_file(model_or_path)
            target, path = info.path, str(info.path)
        else:
            target, path = model_or_path, None
    else:
        conv, target, path = _pick(model_or_path)
    _check_options(options, path)
    from hnn_tf._tf import quiet_native_output

    try:
        with quiet_native_output():  # exporters print on stdout/stderr from C++ and through logging
            return conv.convert(target, **options)
    except ConversionError as exc:
        if path is None or exc.path is not None:
            raise
        raise ConversionError(exc.message, path=path) from None  # every message names its file
