"""Cross-framework retrieval: do Keras models find their torchvision family? (``make bench``)

The registry is the paper's 22 torchvision zoo models (their codes under the given hasher);
the queries are keras.applications ResNet50, DenseNet121, MobileNetV2, InceptionV3 and VGG16
(Keras 3, weights=None), hashed through the public API (``hnn_tf.hashing.analyse_model``).
For each query the script prints the nearest zoo models with their Hamming distances, the
nearest distance of each family, and whether the top-1 model is of the right family.

A hasher trained on canonical graphs (``hnn train --variant canonical``) is what makes
this work: the raw graphs of a Keras and a PyTorch export of one architecture differ in
BatchNorm folding, layout Transposes, Pads and the final Softmax.

Usage: ``python bench/cross_framework.py [--strict] [HASHER_DIR]`` (default: the shipped
64-bit hasher). With ``--strict`` the exit status is 1 unless every top-1 is right.
"""

from __future__ import annotations

import sys
import time
import warnings

import hnn_tf  # noqa: F401  (loads Triton before TensorFlow; see hnn_tf/__init__.py)

#: Keras application -> the torchvision family (zoo category) it should retrieve.
QUERIES = {
    "ResNet50": "ResNet",
    "DenseNet121": "DenseNet",
    "MobileNetV2": "MobileNet",
    "InceptionV3": "Inception",
    "VGG16": "VGG",
}


def zoo_codes(hasher):
    """Codes of the 22 zoo models' original graphs, built as the hasher's variant builds them."""
    from hnn_tf.zoo.dataset import zoo_dataset
    from hnn_tf.zoo.models import PAPER_ZOO

    by_model = {z.model: z.graph for z in zoo_dataset(hasher.config.variant, copies=0, progress=False)}
    graphs = [by_model[m.name] for m in PAPER_ZOO]
    return PAPER_ZOO, hasher.encode(graphs)


def main(argv: list[str]) -> int:
    import numpy as np

    from hnn_tf._tf import import_tensorflow
    from hnn_tf.hashing import analyse_model, hamming_matrix, load_hasher

    strict = "--strict" in argv
    args = [a for a in argv if a != "--strict"]
    hasher_dir = args[0] if args else None
    hasher = load_hasher(None if hasher_dir else 64, hasher_dir)
    print(f"hasher {hasher.version} ({hasher.config.variant} graphs, {hasher.bits} bits)")
    models, db = zoo_codes(hasher)
    import_tensorflow()
    import keras

    ok_all = True
    for name, family in QUERIES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = getattr(keras.applications, name)(weights=None)
        t0 = time.perf_counter()
        report = analyse_model(model, bits=hasher.bits, hasher_dir=hasher_dir)
        seconds = time.perf_counter() - t0
        d = hamming_matrix(report.hash.code[None, :], db)[0]
        order = np.argsort(d, kind="stable")
        top = models[int(order[0])]
        ok = top.category == family
        ok_all &= ok
        per_family: dict[str, int] = {}
        for k in order:
            per_family.setdefault(models[int(k)].category, int(d[k]))
        nearest = ", ".join(f"{models[int(k)].name} {int(d[k])}" for k in order[:4])
        families = ", ".join(f"{f} {v}" for f, v in list(per_family.items())[:4])
        print(f"keras {name:<12} top-1 {top.name:<14} ({top.category}) {'right' if ok else 'WRONG':<5} "
              f"| nearest: {nearest} | families: {families} | {report.nodes} nodes, {seconds:.1f} s")
        del model
    print("all top-1 right" if ok_all else "some top-1 wrong")
    return 0 if ok_all or not strict else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
