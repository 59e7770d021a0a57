"""What a stored Keras model config can make the loader do, read before Keras sees it.

A ``.keras`` archive (``config.json``) or an ``.h5`` file (the ``model_config`` attribute)
describes the model as JSON, and the Keras loaders act on it: Keras 3 refuses some of this in
``safe_mode``, tf_keras much less (its new-format loader imports any module a config names).
:func:`config_problem` reads the config without recursion, once, and names the first thing
hnn refuses unless the caller trusts the file (README "Security"):

- nesting deeper than :attr:`hnn_tf.safe_io.Limits.config_depth` (the loaders recurse and
  would end in a ``RecursionError``);
- a Lambda layer whose Python bytecode is stored in the config (``"__lambda__"``, or tf_keras'
  ``function_type: "lambda"``): loading it runs that code;
- an object of a Python module outside Keras (``"module": "os"``): the loaders import it;
- ``TFSMLayer``, which loads another model from a path named in the config;
- a preprocessing layer whose ``vocabulary`` (or ``idf_weights``) is a file path: building
  the layer reads that file, which may be any file on the machine (or ``/dev/zero``).
"""

from __future__ import annotations

from typing import Any

from hnn_tf.safe_io import current_limits

__all__ = ["config_problem", "KERAS_MODULE_ROOTS"]

#: Module roots a config may name: Keras itself and its companion libraries.
KERAS_MODULE_ROOTS = ("keras", "tf_keras", "keras_hub", "keras_cv", "keras_nlp")
_FILE_ARGS = ("vocabulary", "idf_weights")
_PATH_LAYERS = {"TFSMLayer"}


def _module_allowed(module: Any) -> bool:
    if module is None or module == "builtins":
        return True
    if not isinstance(module, str):
        return False
    root = module.split(".", 1)[0]
    return root in KERAS_MODULE_ROOTS


def config_problem(config: Any, max_depth: int | None = None) -> str | None:
    """The first thing in a Keras model config that hnn refuses without trust, else None.

    Args:
        config: the parsed JSON config (dicts, lists, strings, numbers).
        max_depth: deepest nesting accepted (default :attr:`Limits.config_depth`).
    Returns:
        a phrase saying what was found (``"a Lambda layer whose Python code is stored in
        the file"``), or None when the config only describes layers.
    """
    limit = current_limits().config_depth if max_depth is None else max_depth
    stack: list[tuple[Any, int]] = [(config, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return f"a config nested deeper than {limit} levels (HNN_MAX_CONFIG_DEPTH)"
        if isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
            continue
        if not isinstance(node, dict):
            continue
        cls = node.get("class_name")
        inner = node.get("config") if isinstance(node.get("config"), dict) else {}
        if cls == "__lambda__":
            return "a Lambda layer whose Python code is stored in the file (loading it runs that code)"
        if cls == "Lambda" and "lambda" in (inner.get("function_type"), inner.get("output_shape_type")):
            return "a Lambda layer whose Python code is stored in the file (loading it runs that code)"
        if "module" in node and not _module_allowed(node["module"]):
            return f"an object of the Python module {str(node['module'])[:80]!r}, outside Keras (loading imports it)"
        if cls in _PATH_LAYERS:
            return f"a {cls} layer, which loads another model from a path"
        for key in _FILE_ARGS:
            if isinstance(inner.get(key), str) and cls is not None:
                return f"a {cls} layer whose {key} is read from the file {inner[key][:80]!r}"
        stack.extend((v, depth + 1) for v in node.values())
    return None
