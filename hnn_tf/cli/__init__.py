"""The ``hnn`` command (click): one module per command group, attached here.

- :mod:`.app`: the group and its one-line error handling;
- :mod:`.options`: the options and helpers the groups share (choices read from the registries);
- :mod:`.models`: ``hnn hash``, ``hnn compare``, ``hnn rules``;
- :mod:`.training`: ``hnn train``, ``hnn evaluate``;
- :mod:`.registry`: ``hnn index ...``, ``hnn search``, ``hnn check``;
- :mod:`.paper`: ``hnn grid``, ``hnn figures``;
- :mod:`.zoo`: ``hnn zoo build``, ``hnn zoo list``.

The command modules import :mod:`.app` and :mod:`.options`, never this package or each other,
so the CLI has no import cycle; the library (:mod:`hnn_tf.index`, :mod:`hnn_tf.hashing`...)
never imports the CLI.
"""

from __future__ import annotations

from hnn_tf.cli.app import main
from hnn_tf.cli.models import compare_cmd, hash_cmd, rules_cmd
from hnn_tf.cli.paper import figures_cmd, grid_cmd
from hnn_tf.cli.registry import check_cmd, index_group, search_cmd
from hnn_tf.cli.training import evaluate_cmd, train_cmd
from hnn_tf.cli.zoo import zoo_group

for _command in (hash_cmd, compare_cmd, rules_cmd, train_cmd, evaluate_cmd, index_group, search_cmd, check_cmd,
                 grid_cmd, figures_cmd, zoo_group):
    main.add_command(_command)

__all__ = ["main"]
