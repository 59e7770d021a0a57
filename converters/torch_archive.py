"""Reading PyTorch files from strangers without running code from them.

``torch.export.load`` trusts its input: a ``.pt2`` archive can run code on the machine that
loads it in several ways (README "Security"). It unpickles sample inputs, weights and
constants, falling back to ``weights_only=False`` when the safe unpickler refuses; it
``dlopen``s AOTInductor shared libraries; it passes shape expressions to ``sympy.sympify``,
which evaluates Python; it resolves a node's target by walking attribute names from the
``torch`` module, so a node can call any function reachable from there (``torch.os.system``);
and ``ExportedProgram.module()`` compiles the archive's ``guards_code`` strings with ``exec``.

:func:`sanitize_pt2` closes all of these before torch sees the archive. It reads the archive's
JSON (never its pickles) and builds a new archive in memory that holds only what is needed
to rebuild the graph:

- the members are those ``torch.export.save`` writes (format, version, programs, weight and
  constant configs, raw tensor records); AOTInductor, ExecuTorch and legacy (pickled) members
  are refused;
- weights and constants must be raw tensor records (``use_pickle`` false); custom and opaque
  objects are refused; every declared tensor is bounded by :attr:`Limits.tensor_bytes`;
- every node's target must be an operator of an allowed namespace (``aten``, ``prims``,
  ``quantized_decomposed``) that does not touch files or the process (``aten::from_file``,
  ``aten::save``, ``aten::_print`` ... are refused), an allowed higher-order operator, or one
  of the symbolic-shape functions of ``operator``/``math``/``torch.sym_*``;
- every shape expression must parse as arithmetic over shape symbols, numbers and a fixed
  list of sympy functions (no attribute access, no strings, no other names);
- node metadata (stack traces, module stacks, source functions) and ``guards_code`` are
  dropped, and the archive's pickled sample inputs are replaced by zeros built from the
  declared input shapes and written by hnn itself.

:func:`scan_pickle` reads a ``torch.save`` checkpoint's pickle opcode by opcode (the standard
library's ``pickletools``, which executes nothing) to tell a weights-only file from one that
pickles Python objects, without unpickling either.
"""

from __future__ import annotations

import io
import json
import pickletools
import re
import zipfile
from collections.abc import Iterator
from typing import Any

from hnn_tf.errors import ConversionError
from hnn_tf.safe_io import check_zip, current_limits, json_depth, open_zip, read_zip_member

__all__ = [
    "ALLOWED_HIGHER_ORDER_OPS",
    "ALLOWED_OP_NAMESPACES",
    "DENIED_OPS",
    "check_expression",
    "check_target",
    "sanitize_pt2",
    "scan_pickle",
]

#: Operator namespaces whose operators a ``.pt2`` graph may call.
ALLOWED_OP_NAMESPACES = frozenset({"aten", "prims", "quantized_decomposed"})
#: Operators of those namespaces that touch files, print, or change process state.
DENIED_OPS = frozenset({
    "from_file", "save", "_print", "warn", "_test_warn_in_autograd", "manual_seed", "set_", "set_data",
    "pin_memory", "_pin_memory", "record_stream", "cuda", "_cufft_set_plan_cache_max_size",
    "_cufft_clear_plan_cache", "is_pinned",
})
#: Higher-order operators (``torch.ops.higher_order.*``) a graph may call: control flow and wrappers.
ALLOWED_HIGHER_ORDER_OPS = frozenset({
    "cond", "while_loop", "map_impl", "scan", "associative_scan", "wrap_with_set_grad_enabled",
    "wrap_with_autocast", "invoke_subgraph", "auto_functionalized", "auto_functionalized_v2",
    "flex_attention",
})
#: Symbolic-shape functions torch serialises by module path (``operator`` and ``math`` ones
#: under their own names, ``torch.sym_*``).
_SYM_TARGETS = frozenset(
    [f"_operator.{n}" for n in ("eq", "ne", "le", "ge", "lt", "gt", "neg", "pos", "mul", "add", "sub",
                                 "floordiv", "mod", "pow", "truediv", "and_", "or_", "lshift", "rshift",
                                 "getitem")]
    + ["math.trunc", "math.ceil", "math.floor"]
    + [f"torch.{n}" for n in ("sym_not", "sym_int", "sym_float", "sym_ite", "sym_max", "sym_min", "sym_sqrt",
                              "sym_sum", "_sym_sqrt")]
)
_OP_TARGET = re.compile(r"^torch\.ops\.([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)$")
_HOP_TARGET = re.compile(r"^torch\.ops\.higher_order\.([A-Za-z_][A-Za-z0-9_]*)$")

#: Names a shape expression may call or mention besides shape symbols (the sympy functions
#: torch's deserialiser provides, and sympy's relational and logic names).
_EXPR_NAMES = frozenset({
    "FloorDiv", "ModularIndexing", "Where", "PythonMod", "Mod", "CleanDiv", "CeilToInt", "FloorToInt", "CeilDiv",
    "LShift", "RShift", "PowByNatural", "FloatPow", "FloatTrueDiv", "IntTrueDiv", "IsNonOverlappingAndDenseIndicator",
    "TruncToFloat", "TruncToInt", "RoundToInt", "RoundDecimal", "ToFloat", "Identity", "OpaqueUnaryFn_sqrt",
    "BitwiseFn_bitwise_and", "BitwiseFn_bitwise_or", "BitwiseFn_bitwise_xor", "Max", "Min", "Eq", "Ne", "Lt", "Le",
    "Gt", "Ge", "And", "Or", "Not", "Xor", "True", "False", "true", "false", "oo", "nan", "Abs", "floor", "ceiling",
    "sqrt", "Piecewise", "ITE",
})
_SYMBOL = re.compile(r"^[a-z]{1,4}\d+$")
_EXPR_TOKEN = re.compile(
    r"\s+|(?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|//|==|!=|<=|>=|[-+*/%()<>,&|~^])"
)
#: Longest shape expression accepted (sympy's parser is slow on huge ones).
MAX_EXPRESSION_CHARS = 4096

_ROOT_FILES = {"archive_format", "archive_version", "byteorder", ".data/version", ".data/serialization_id"}
_ITEM_BYTES = {0: 1, 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 2, 7: 4, 8: 8, 9: 4, 10: 8, 11: 16, 12: 1, 13: 2, 28: 2,
               29: 1, 30: 1, 31: 1, 32: 1, 33: 1, 34: 4, 35: 8}


def _refuse(message: str, where: str) -> ConversionError:
    return ConversionError(f"refused: {message}; hnn does not load such a .pt2 without --trust", path=where)


def check_target(target: Any) -> str | None:
    """Why a ``.pt2`` node target is refused, or None when it is allowed.

    Args:
        target: the serialised target, e.g. ``"torch.ops.aten.conv2d.default"``.
    Returns:
        None for an operator of :data:`ALLOWED_OP_NAMESPACES` not in :data:`DENIED_OPS`, an
        operator of :data:`ALLOWED_HIGHER_ORDER_OPS`, or a symbolic-shape function; else the
        reason, in words.
    """
    if not isinstance(target, str):
        return f"a node target of type {type(target).__name__}"
    if target in _SYM_TARGETS:
        return None
    m = _HOP_TARGET.match(target)
    if m:
        return None if m.group(1) in ALLOWED_HIGHER_ORDER_OPS else f"the higher-order operator {target!r}"
    m = _OP_TARGET.match(target)
    if m:
        namespace, name, _ = m.groups()
        if namespace not in ALLOWED_OP_NAMESPACES:
            return f"the operator {target!r} of namespace {namespace!r}"
        if name in DENIED_OPS or "file" in name:
            return f"the operator {target!r}, which acts outside the computation"
        return None
    return f"the node target {target[:120]!r}, which is not an operator"


def check_expression(text: Any) -> str | None:
    """Why a serialised shape expression is refused, or None when it is plain shape arithmetic.

    Allowed: shape symbols (``s0``, ``u12``), numbers, the operators ``+ - * / // % ** == != <
    <= > >= & | ~ ^``, parentheses, commas and the function names torch's deserialiser gives
    sympy. Anything else (a string, an attribute, another name) is refused, because torch parses
    the expression with ``sympy.sympify``, which evaluates Python.
    """
    if not isinstance(text, str):
        return f"a shape expression of type {type(text).__name__}"
    if len(text) > MAX_EXPRESSION_CHARS:
        return f"a shape expression of {len(text)} characters"
    pos = 0
    while pos < len(text):
        m = _EXPR_TOKEN.match(text, pos)
        if m is None:
            return f"the shape expression {text[:80]!r} (character {text[pos]!r})"
        name = m.group("name")
        if name is not None and name not in _EXPR_NAMES and not _SYMBOL.match(name):
            return f"the shape expression {text[:80]!r} (name {name!r})"
        pos = m.end()
    return None


def _nodes(obj: Any) -> Iterator[dict]:
    """Every serialised node (a dict with ``target`` and ``inputs``) anywhere in a program, subgraphs included."""
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            if "target" in x and "inputs" in x and "outputs" in x:
                yield x
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)


def _walk_keyed(obj: Any, key: str) -> Iterator[Any]:
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            for k, v in x.items():
                if k == key:
                    yield v
                stack.append(v)
        elif isinstance(x, list):
            stack.extend(x)


def _numel(sizes: Any) -> int | None:
    """Elements of a serialised tensor meta's ``sizes`` (list of ``{"as_int": n}``); None when symbolic."""
    n = 1
    for s in sizes if isinstance(sizes, list) else ():
        if not isinstance(s, dict) or "as_int" not in s:
            return None
        v = s["as_int"]
        if not isinstance(v, int) or v < 0:
            raise ValueError(f"a tensor dimension of {v!r}")
        n *= v
    return n


def _check_tensor_meta(meta: Any, what: str, where: str, limit: int) -> int:
    if not isinstance(meta, dict):
        raise _refuse(f"{what} has no tensor description", where)
    try:
        n = _numel(meta.get("sizes"))
    except ValueError as exc:
        raise _refuse(f"{what} has {exc}", where) from None
    if n is None:
        return 0
    nbytes = n * _ITEM_BYTES.get(meta.get("dtype"), 8)
    if nbytes > limit:
        raise _refuse(f"{what} declares a tensor of {nbytes} bytes, more than the limit of {limit} "
                      "(HNN_MAX_TENSOR_MB)", where)
    return nbytes


def _load_json(zf: zipfile.ZipFile, name: str, where: str) -> Any:
    limits = current_limits()
    text = read_zip_member(zf, name, where)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ConversionError(f"the archive member {name!r} is not valid JSON ({type(exc).__name__})",
                              path=where) from None
    if json_depth(value, limits.config_depth) > limits.config_depth:
        raise ConversionError(f"the archive member {name!r} nests deeper than {limits.config_depth} levels "
                              "(HNN_MAX_CONFIG_DEPTH)", path=where)
    return value


def _check_program(program: Any, where: str) -> None:
    """Refuse a serialised ExportedProgram that names code to run (see the module doc)."""
    if not isinstance(program, dict) or not isinstance(program.get("graph_module"), dict):
        raise ConversionError("the archive's program is not a serialised ExportedProgram", path=where)
    limit = current_limits().tensor_bytes
    for node in _nodes(program):
        reason = check_target(node.get("target"))
        if reason:
            raise _refuse(f"the graph calls {reason}", where)
    for expr in _walk_keyed(program, "expr_str"):
        reason = check_expression(expr)
        if reason:
            raise _refuse(f"the graph holds {reason}", where)
    for values in _walk_keyed(program, "custom_obj_values"):
        if values:
            raise _refuse("the graph holds custom (TorchBind) objects, which load through pickle", where)
    for values in _walk_keyed(program, "tensor_values"):
        if isinstance(values, dict):
            for name, meta in values.items():
                _check_tensor_meta(meta, f"the tensor {name!r}", where, limit)


def _strip(program: dict) -> dict:
    """The program without what torch would evaluate but the hash does not need: node
    metadata (module stacks, source functions, custom JSON) and ``guards_code``."""
    for node in _nodes(program):
        node["metadata"] = {}
    program["guards_code"] = []
    return program


def _check_payload_config(config: Any, kind: str, names: set[str], base: str, where: str) -> int:
    """Check a weights or constants config: raw tensor records only. Returns the declared bytes."""
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ConversionError(f"the archive's {kind} config is malformed", path=where)
    limit, total = current_limits().tensor_bytes, 0
    for fqn, payload in config["config"].items():
        if not isinstance(payload, dict):
            raise ConversionError(f"the archive's {kind} config is malformed at {fqn!r}", path=where)
        if payload.get("use_pickle"):
            raise _refuse(f"the {kind} {fqn!r} is stored as a pickle, and unpickling runs code", where)
        path_name = payload.get("path_name")
        if not isinstance(path_name, str) or "/" in path_name or "\\" in path_name or path_name in ("", ".", ".."):
            raise ConversionError(f"the {kind} {fqn!r} names a bad record {path_name!r}", path=where)
        if kind == "constant" and not path_name.startswith("tensor_"):
            raise _refuse(f"the constant {fqn!r} is a custom or opaque object, which loads through pickle", where)
        if base + path_name not in names:
            raise ConversionError(f"the {kind} {fqn!r} names a record {path_name!r} the archive lacks", path=where)
        total += _check_tensor_meta(payload.get("tensor_meta"), f"the {kind} {fqn!r}", where, limit)
        if total > limit:
            raise _refuse(f"the {kind}s declare more than {limit} bytes (HNN_MAX_TENSOR_MB)", where)
    return total


def _sample_inputs(program: dict, where: str) -> bytes:
    """``torch.save`` bytes of (args, kwargs) for the program's inputs: zeros of the declared
    shapes for tensors, the recorded values for constants, arranged by the program's input spec."""
    import torch
    from torch._export.serde.serialize import _SERIALIZE_TO_TORCH_DTYPE
    from torch.utils._pytree import tree_unflatten, treespec_loads

    gm = program["graph_module"]
    tensors = gm.get("graph", {}).get("tensor_values", {})
    leaves: list[Any] = []
    for spec in gm.get("signature", {}).get("input_specs", []):
        if "user_input" in spec:
            arg = spec["user_input"].get("arg", {})
            if "as_tensor" not in arg:
                kind = next(iter(arg), "?")
                raise ConversionError(f"the program takes a {kind} input; hnn builds trigger inputs for tensors "
                                      "and constants only", path=where)
            meta = tensors.get(arg["as_tensor"].get("name"), {})
            sizes = []
            for s in meta.get("sizes", []):
                if "as_int" in s:
                    sizes.append(int(s["as_int"]))
                else:  # a dynamic dimension: its hint (the size the program was exported with), else 1
                    hint = (s.get("as_expr") or {}).get("hint") or {}
                    sizes.append(int(hint.get("as_int", 1)) if isinstance(hint, dict) else 1)
            try:
                dtype = _SERIALIZE_TO_TORCH_DTYPE[meta.get("dtype")]
            except KeyError:
                raise ConversionError(f"an input has an unknown dtype code {meta.get('dtype')!r}", path=where) from None
            leaves.append(torch.zeros(sizes, dtype=dtype))
        elif "constant_input" in spec:
            value = spec["constant_input"].get("value", {})
            kind, v = next(iter(value.items())) if value else ("as_none", None)
            if kind not in ("as_int", "as_float", "as_bool", "as_string", "as_none"):
                raise ConversionError(f"the program takes a constant input of kind {kind}", path=where)
            leaves.append(None if kind == "as_none" else v)
    calls = gm.get("module_call_graph") or [{}]
    in_spec = ((calls[0] or {}).get("signature") or {}).get("in_spec")
    try:
        args_kwargs = tree_unflatten(leaves, treespec_loads(in_spec)) if in_spec else (tuple(leaves), {})
    except Exception as exc:  # noqa: BLE001 - a malformed or mismatched input spec
        raise ConversionError(f"the program's input spec does not fit its inputs ({type(exc).__name__})",
                              path=where) from None
    if not (isinstance(args_kwargs, tuple) and len(args_kwargs) == 2):
        raise ConversionError("the program's input spec is not (args, kwargs)", path=where)
    buf = io.BytesIO()
    torch.save(args_kwargs, buf)
    return buf.getvalue()


def sanitize_pt2(data: bytes, where: str) -> bytes:
    """A ``torch.export.save`` archive rebuilt so that ``torch.export.load`` runs no code from it.

    Args:
        data: the archive's bytes (already read with the size limit).
        where: the file name, for messages.
    Returns:
        the bytes of an equivalent archive: the same programs (metadata and guards dropped),
        weights and constants, and sample inputs written by hnn (see the module doc).
    Raises:
        ConversionError: not a ``.pt2`` archive, a corrupt one, or one that holds anything
            that would run code or break a limit (the message says what, and starts with
            ``refused:`` for what is refused on purpose).
    """
    zf = open_zip(data, where)
    names = zf.namelist()
    formats = [n for n in names if n.rsplit("/", 1)[-1] == "archive_format"]
    if not formats:
        if any(n.rsplit("/", 1)[-1] == "serialized_exported_program.json" for n in names):
            raise _refuse("a torch.export archive of the legacy format (torch < 2.7), whose weights load "
                          "through pickle; save it again with a current torch.export.save", where)
        raise ConversionError("not a torch.export (.pt2) archive (it has no archive_format member)", path=where)
    prefix = formats[0][: -len("archive_format")]
    strangers = [n for n in names if not n.startswith(prefix)]
    if strangers:
        raise ConversionError(f"the archive member {strangers[0]!r} lies outside the archive's folder", path=where)
    rel = {n[len(prefix):]: n for n in names if not n.endswith("/")}
    fmt = read_zip_member(zf, prefix + "archive_format", where).decode("utf-8", "replace").strip()
    if fmt != "pt2":
        raise ConversionError(f"an archive of format {fmt[:40]!r}, not a torch.export pt2 archive", path=where)
    models = sorted(r[len("models/"):-len(".json")] for r in rel if r.startswith("models/") and r.endswith(".json"))
    if not models:
        raise ConversionError("the archive holds no exported program (models/*.json)", path=where)
    if any("/" in m for m in models):
        raise ConversionError("the archive's programs are nested in folders", path=where)
    allowed = set(_ROOT_FILES)
    weight_records, constant_records = set(), set()
    replaced: dict[str, bytes] = {}
    for m in models:
        program = _load_json(zf, prefix + f"models/{m}.json", where)
        _check_program(program, where)
        replaced[prefix + f"models/{m}.json"] = json.dumps(_strip(program)).encode()
        for kind, folder, records in (("weight", "data/weights/", weight_records),
                                      ("constant", "data/constants/", constant_records)):
            cfg_name = f"{folder}{m}_{kind}s_config.json"
            if cfg_name not in rel:
                if f"{folder}{m}.pt" in rel:
                    raise _refuse(f"the {kind}s are stored in the legacy pickled form", where)
                raise ConversionError(f"the archive lacks {cfg_name}", path=where)
            cfg = _load_json(zf, prefix + cfg_name, where)
            _check_payload_config(cfg, kind, set(rel), folder, where)
            allowed.add(cfg_name)
            records.update(folder + p["path_name"] for p in cfg["config"].values())
        sample = f"data/sample_inputs/{m}.pt"
        if sample in rel:  # never unpickled: read opcode by opcode, then replaced
            stored = read_zip_member(zf, prefix + sample, where)
            objects = [g for g in checkpoint_globals(stored, where) if not is_weights_only([g])]
            if objects:
                shown = ", ".join(g.replace(" ", ".") for g in objects)[:160]
                raise _refuse(f"the sample inputs pickle Python objects ({shown}), and unpickling runs code",
                              where)
        allowed.add(sample)
        replaced[prefix + sample] = _sample_inputs(program, where)
        allowed.add(f"models/{m}.json")
    allowed |= weight_records | constant_records
    for r in rel:
        if r in allowed or r.startswith("extra/"):
            continue
        if r.startswith("data/aotinductor/") or r.endswith((".so", ".dll", ".dylib", ".pyd")):
            raise _refuse(f"the archive holds compiled code ({r!r}), which loading would run", where)
        raise _refuse(f"the archive holds an unexpected member {r!r}", where)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zout:
        for info in zf.infolist():
            if info.filename.endswith("/"):
                continue
            r = info.filename[len(prefix):]
            if info.filename in replaced:
                zout.writestr(info.filename, replaced[info.filename])
            elif r in allowed or r.startswith("extra/"):
                zout.writestr(info.filename, read_zip_member(zf, info.filename, where, max_bytes=current_limits().zip_bytes))
        for name, payload in replaced.items():
            if name not in zout.namelist():
                zout.writestr(name, payload)
    return out.getvalue()


#: Globals a weights-only ``torch.save`` pickle refers to (tensor rebuilding and containers).
_WEIGHT_GLOBALS = re.compile(
    r"^(torch\._utils _rebuild_\w+|torch \w*Storage|torch (float|double|half|bfloat16|int\d*|uint\d*|bool|"
    r"long|short|complex\d+|float\d+\w*)|torch\._tensor _rebuild_from_type_v2|torch Size|torch device|"
    r"torch dtype|collections OrderedDict|(builtins|__builtin__) (set|frozenset|slice|complex|bytearray)|"
    r"torch\.nn\.parameter Parameter|_codecs encode|torch\._utils _rebuild_parameter\w*)$"
)


def scan_pickle(data: bytes, count: int = 1) -> list[str]:
    """The globals (``"module name"``) a pickle refers to, read with ``pickletools.genops``.

    Nothing is unpickled: the opcodes are only listed. ``STACK_GLOBAL`` names come from the
    two strings pushed before it (pickle protocol 4+ writes them so).

    Args:
        data: the bytes.
        count: how many pickles written one after the other to read (the legacy
            ``torch.save`` format writes five, followed by raw storage bytes).

    Returns:
        the referenced globals, in order of first use.
    Raises:
        ValueError: the bytes are not a well-formed pickle.
    """
    found: list[str] = []
    stream = io.BytesIO(data)
    for _ in range(count):
        found += _scan_one(stream)
    return list(dict.fromkeys(found))


def _scan_one(stream: io.BytesIO) -> list[str]:
    found: list[str] = []
    recent: list[str | None] = []  # what each opcode pushed, strings kept, anything else None
    memo: dict[int, str | None] = {}
    for op, arg, _ in pickletools.genops(stream):
        name = op.name
        if name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
            recent.append(str(arg))
        elif name in ("BINGET", "LONG_BINGET", "GET"):
            recent.append(memo.get(int(arg)))
        elif name == "MEMOIZE":
            memo[len(memo)] = recent[-1] if recent else None
        elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[int(arg)] = recent[-1] if recent else None
        elif name in ("GLOBAL", "INST"):
            found.append(str(arg).replace("\n", " ").strip())
            recent.append(None)
        elif name == "STACK_GLOBAL":
            module, attr = (recent[-2], recent[-1]) if len(recent) >= 2 else (None, None)
            found.append(f"{module} {attr}" if module is not None and attr is not None else "? ?")
            recent.append(None)
        else:
            recent.append(None)
        del recent[:-4]
    return found


def checkpoint_globals(data: bytes, where: str) -> list[str]:
    """The globals of a ``torch.save`` file (zip archive with ``data.pkl``, or a legacy plain pickle).

    Raises:
        ConversionError: not a readable pickle or torch archive.
    """
    count = 1
    if data[:4] == b"PK\x03\x04":
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
            raise ConversionError(f"not a readable PyTorch file (a corrupt zip archive: {exc})", path=where) from None
        check_zip(zf, where)
        pkls = [n for n in zf.namelist() if n.rsplit("/", 1)[-1] == "data.pkl"]
        if not pkls:
            raise ConversionError("a zip archive without data.pkl: not a torch.save file", path=where)
        payload = read_zip_member(zf, pkls[0], where)
    else:  # legacy format: magic number, protocol, system info, the object, storage keys
        payload, count = data, 5
    try:
        return scan_pickle(payload, count)
    except Exception as exc:  # noqa: BLE001 - pickletools raises ValueError and others on bad opcodes
        raise ConversionError(f"not a readable PyTorch file (a corrupt pickle: {exc})", path=where) from None


def is_weights_only(globals_: list[str]) -> bool:
    """True when every global a checkpoint refers to rebuilds tensors or plain containers."""
    return all(_WEIGHT_GLOBALS.match(g) for g in globals_)
