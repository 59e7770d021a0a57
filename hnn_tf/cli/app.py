"""The ``hnn`` command group and its error handling.

Every command turns bad input into one line on stderr that names the file and the problem,
and exit status 2 (README "Security"); stdout carries results only. Set ``HNN_DEBUG=1`` to
see full tracebacks and the libraries' own output instead. The commands live in the sibling
modules, one per command group, and are attached by :mod:`hnn_tf.cli`.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback

import click

from hnn_tf.errors import HNNError
from hnn_tf.safe_io import TimeLimitExceeded

__all__ = ["CURRENT", "fail", "main"]

#: The model files being read, innermost last, so an unexpected error can name its file.
CURRENT: list[str] = []


def fail(message: str, exit_now: bool = True) -> None:
    """Print ``hnn: error: MESSAGE`` as one line on stderr (and exit 2 unless ``exit_now`` is False)."""
    click.echo(f"hnn: error: {' '.join(str(message).split())[:2000]}", err=True)
    if exit_now:
        sys.exit(2)


class _Group(click.Group):
    """A click group that reports errors as one line and exit status 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except (HNNError, TimeLimitExceeded) as exc:
            if os.environ.get("HNN_DEBUG"):
                traceback.print_exc()
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted")
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                # The reader of stdout went away (``hnn check ... | head``): click's own main
                # loop silences the closed stream and exits 1, as a Unix filter does.
                raise
            _unexpected(exc)
        except Exception as exc:  # noqa: BLE001 - never a traceback for the user
            _unexpected(exc)


def _unexpected(exc: BaseException) -> None:
    """Report an error no library wrapper named as one line on stderr, naming the file being read; exit 2."""
    if os.environ.get("HNN_DEBUG"):
        traceback.print_exc()
    where = f"{CURRENT[-1]}: " if CURRENT else ""
    fail(f"{where}unexpected error: {type(exc).__name__}: {exc}")


@click.group(cls=_Group)
@click.version_option(package_name="hnn")
def main() -> None:
    """hnn: perceptual hashes of neural networks (HNN-Net, Zhu et al., Symmetry 2022).

    Similar models get codes close in Hamming distance. Models may be ONNX, PyTorch (.pt2),
    Keras (.keras, .h5) or TFLite files (TorchScript, pickled modules and SavedModels with
    --trust).
    """
