"""``python -m hnn_tf.cli ...`` is ``hnn ...``."""

from hnn_tf.cli import main

if __name__ == "__main__":  # pragma: no cover
    main(prog_name="hnn")
