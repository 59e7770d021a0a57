"""Hand-written architectures that no zoo ships, against the broad zoo, for every shipped hasher.

A user's own model must not be flagged as a copy of a zoo model, and its own variants must
find it. Six families are written here in plain PyTorch (none is a timm, transformers,
torchvision or Keras model, and none is in any hasher's training data), three sizes each:
an MLP-Mixer-like token MLP, a gated residual CNN, a two-level U-Net, a dilated 1-D CNN, a
GRU classifier and a stack of hand-rolled attention blocks (rotated queries, gated MLP).

For each shipped hasher (``broad``, the default; ``wl``; ``wl-sized``; ``hnn``, the paper's) it prints:

- ``flagged``: hand-written models with a zoo architecture within the hasher's calibrated
  check threshold (what ``hnn check`` would call suspect against a registry of the zoo);
  target 0;
- ``nearest zoo``: the smallest Hamming distance from each family to the zoo;
- ``family top-1``: hand-written models whose nearest other code (zoo and hand-written) is of
  their own family;
- ``variants``: export variants of each hand-written model (the dynamo exporter,
  onnxruntime dynamic int8, fp16; :func:`hnn_tf.zoo.variants.make_variant`), per kind: how
  many have the very code of their source, how many are nearer their own family than the zoo
  and the other families (``family top-1``), how many are strictly nearer their own source
  than anything else (``source top-1``: a sibling of another width with the same code counts
  against it), and the mean number of bits from the source.

Needs the broad zoo cache (``hnn zoo build``). Usage: ``python bench/handwritten.py``.
"""

from __future__ import annotations

import sys
import time

import hnn_tf  # noqa: F401  (sets up TensorFlow's environment first)


#: The export variants made of each hand-written model.
VARIANTS = ("dynamo", "dynamic", "fp16")


def families():
    """name -> list of (module, example args): the hand-written families."""
    import torch
    from torch import nn

    torch.manual_seed(0)

    class Mixer(nn.Module):
        def __init__(self, depth, width):
            super().__init__()
            self.emb = nn.Linear(48, width)
            self.blocks = nn.ModuleList([nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 2 * width), nn.GELU(),
                                                       nn.Linear(2 * width, width)) for _ in range(depth)])
            self.head = nn.Linear(width, 7)

        def forward(self, x):
            x = self.emb(x)
            for b in self.blocks:
                x = x + b(x)
            return self.head(x.mean(1))

    class Gated(nn.Module):
        def __init__(self, depth, ch):
            super().__init__()
            self.stem = nn.Conv2d(3, ch, 5, padding=2)
            self.a = nn.ModuleList([nn.Conv2d(ch, ch, 3, padding=1) for _ in range(depth)])
            self.b = nn.ModuleList([nn.Conv2d(ch, ch, 1) for _ in range(depth)])
            self.head = nn.Linear(ch, 4)

        def forward(self, x):
            x = self.stem(x)
            for a, b in zip(self.a, self.b):
                x = x + torch.tanh(a(x)) * torch.sigmoid(b(x))
            return self.head(x.mean((2, 3)))

    class UNet(nn.Module):
        def __init__(self, ch):
            super().__init__()
            self.d1 = nn.Conv2d(3, ch, 3, padding=1)
            self.d2 = nn.Conv2d(ch, 2 * ch, 3, stride=2, padding=1)
            self.up = nn.ConvTranspose2d(2 * ch, ch, 2, stride=2)
            self.out = nn.Conv2d(2 * ch, 1, 1)

        def forward(self, x):
            a = torch.relu(self.d1(x))
            return self.out(torch.cat([a, self.up(torch.relu(self.d2(a)))], 1))

    def conv1d(depth, ch):
        layers = [nn.Conv1d(8, ch, 7, padding=3), nn.ELU()]
        for _ in range(depth):
            layers += [nn.Conv1d(ch, ch, 3, padding=2, dilation=2), nn.ELU(), nn.MaxPool1d(2)]
        return nn.Sequential(*layers, nn.Flatten(), nn.Linear(ch * (128 >> depth), 3))

    class GRUNet(nn.Module):
        def __init__(self, layers, hidden):
            super().__init__()
            self.rnn = nn.GRU(12, hidden, num_layers=layers, batch_first=True)
            self.head = nn.Linear(hidden, 5)

        def forward(self, x):
            y, _ = self.rnn(x)
            return self.head(y[:, -1])

    class Rotary(nn.Module):
        def __init__(self, depth, d):
            super().__init__()
            self.qkv = nn.ModuleList([nn.Linear(d, 3 * d) for _ in range(depth)])
            self.o = nn.ModuleList([nn.Linear(d, d) for _ in range(depth)])
            self.g = nn.ModuleList([nn.Linear(d, 2 * d) for _ in range(depth)])
            self.n = nn.ModuleList([nn.LayerNorm(d) for _ in range(depth)])

        def forward(self, x):
            for qkv, o, g, n in zip(self.qkv, self.o, self.g, self.n):
                q, k, v = qkv(n(x)).chunk(3, -1)
                h = q.shape[-1] // 2
                q = torch.cat((-q[..., h:], q[..., :h]), -1) * q
                x = x + o(torch.softmax(q @ k.transpose(1, 2) / 4, -1) @ v)
                u, w = g(x).chunk(2, -1)
                x = x + u * torch.sigmoid(w)
            return x

    img, seq = (torch.zeros(1, 3, 32, 32),), (torch.zeros(1, 16, 48),)
    return {
        "mixer": [(Mixer(d, w), seq) for d, w in ((3, 64), (4, 64), (3, 96))],
        "gated_cnn": [(Gated(d, c), img) for d, c in ((3, 16), (4, 16), (3, 24))],
        "unet": [(UNet(c), img) for c in (8, 16, 12)],
        "conv1d": [(conv1d(d, c), (torch.zeros(1, 8, 128),)) for d, c in ((3, 16), (4, 16), (3, 32))],
        "gru": [(GRUNet(n, h), (torch.zeros(1, 20, 12),)) for n, h in ((1, 32), (2, 32), (2, 64))],
        "rotary": [(Rotary(d, 32), (torch.zeros(1, 6, 32),)) for d in (2, 3, 4)],
    }


def main() -> int:
    import numpy as np

    from hnn_tf.codes import hamming_matrix
    from hnn_tf.converters.pytorch import export_module
    from hnn_tf.hashing import load_hasher, model_graph
    from hnn_tf.index.threshold import threshold_for
    from hnn_tf.zoo.generalisation import zoo_items
    from hnn_tf.zoo.variants import make_variant

    items = zoo_items()
    if not items:
        print("the broad zoo cache is empty: run `hnn zoo build` first", file=sys.stderr)
        return 1
    def graph(model):  # the canonical graph, which all three hashers read
        return model_graph(model, "canonical").graph

    t0 = time.perf_counter()
    originals, variants, labels, owners, kinds = [], [], [], [], []
    for fam, models in families().items():
        for j, (module, args) in enumerate(models):
            module.eval()
            float_export = export_module(module, args, keep_weights=True)
            originals.append(graph(float_export))
            labels.append(fam)
            for v in VARIANTS:
                try:
                    m = export_module(module, args, dynamo=True) if v == "dynamo" else make_variant(float_export, v)
                    variants.append(graph(m))
                    owners.append(len(originals) - 1)
                    kinds.append(v)
                except Exception as exc:  # a variant a tool cannot make is reported, not fatal
                    print(f"{fam}-{j} {v}: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}")
    print(f"{len(originals)} hand-written models in {len(set(labels))} families, {len(variants)} variants; "
          f"{len(items)} zoo architectures ({time.perf_counter() - t0:.0f} s to export)")
    labels_arr = np.array(labels)
    owners_arr = np.array(owners)
    rows = []
    for kind in ("broad", "wl", "wl-sized", "hnn"):
        hasher = load_hasher(64, kind)
        t = threshold_for(64, hasher.version, kind)
        zoo = hasher.encode([it.graph for it in items])
        own = hasher.encode(originals)
        var = hasher.encode(variants)
        to_zoo = hamming_matrix(own, zoo).min(axis=1)
        d_own = hamming_matrix(own, own).astype(float)
        np.fill_diagonal(d_own, np.inf)
        nearest_own = d_own.min(axis=1) < to_zoo  # ties go to the zoo: the harder reading
        fam_top1 = int((nearest_own & (labels_arr[d_own.argmin(axis=1)] == labels_arr)).sum())
        dv = hamming_matrix(var, own).astype(float)
        dvz = hamming_matrix(var, zoo).min(axis=1)
        rows_v = np.arange(len(variants))
        src = dv[rows_v, owners_arr]
        others = dv.copy()
        others[rows_v, owners_arr] = np.inf
        same_fam = labels_arr[None, :] == labels_arr[owners_arr][:, None]
        fam_near = np.where(same_fam, dv, np.inf).min(axis=1)
        other_near = np.minimum(np.where(same_fam, np.inf, dv).min(axis=1), dvz)
        per_kind = {}
        for v in VARIANTS:
            k = np.array(kinds) == v
            per_kind[v] = (int(k.sum()), int((src[k] == 0).sum()), int((fam_near[k] < other_near[k]).sum()),
                           int(((src < others.min(axis=1)) & (src < dvz))[k].sum()), float(src[k].mean()))
        per_family = {f: int(to_zoo[labels_arr == f].min()) for f in dict.fromkeys(labels)}
        rows.append((kind, hasher.version, t.value, int((to_zoo <= t.value).sum()), per_family, fam_top1, per_kind))
    n = len(originals)
    for kind, version, t, flagged, per_family, fam_top1, per_kind in rows:
        print(f"\n{kind} ({version}), check threshold {t} bits")
        print(f"  flagged against the zoo: {flagged} of {n} (target 0)")
        print("  nearest zoo distance per family: " + ", ".join(f"{f} {d}" for f, d in per_family.items()))
        print(f"  family top-1: {fam_top1} of {n}")
        for v, (count, equal, fam1, src1, bits) in per_kind.items():
            print(f"  variants {v}: {count}; same code {equal}, family top-1 {fam1}, source top-1 {src1}, "
                  f"{bits:.1f} bits from the source on average")
    return 0


if __name__ == "__main__":
    sys.exit(main())
