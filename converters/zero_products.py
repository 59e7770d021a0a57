"""Skip the arithmetic of matrix products and convolutions that have an all-zero operand.

The hash reads shapes, so hnn builds zoo models with zero weights
(:func:`hnn_tf.converters.pytorch.zero_random_init`) and exports them on an all-zero trigger
input. The TorchScript exporter still runs the model once to trace it, and on the CPU that
forward pass spends most of its time in products whose result is known without computing
them: a convolution or a linear layer with all-zero weights returns its bias, and
attention's ``q @ k^T`` of all-zero queries returns zeros. In a timm ViT-B/14 at 518x518
(DINOv2) the products take 2.6 s of the 3.4 s forward pass.

Inside :func:`zero_products`, the CPU kernels of :data:`PRODUCTS` check their smaller
operand (one pass over it, far cheaper than the product) and, when it is all zeros, return
the bias broadcast to the output shape (zeros where there is no bias) without computing the
product; otherwise they call the original kernel. The exporter's tracer sits above the CPU
kernels in PyTorch's dispatcher, so it records the same operators either way; what changes
is only the time. The result is the one the product would give whenever the other operand
is finite (0 x inf is NaN; a product with an infinite operand does not occur in a model's
forward pass on zeros). On 33 timm models the exports are byte-identical with and without
it, and 25% faster in all (docs/method.md "Exporter invariance").

Source: ``torch.library.Library.impl`` (a kernel for an existing operator at the ``CPU``
dispatch key) and ``torch.library.get_kernel`` (the original kernel, called for the rest);
the output shapes are the operators' documented ones (``torch.nn.functional.conv2d``,
``torch.mm``, ``torch.bmm``).
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable

#: Overridden operator -> (index of the two multiplied operands, index of the bias or None).
#: ``_convolution`` is where every CPU convolution (1-3-d, transposed, grouped) computes;
#: ``aten::linear`` and ``aten::matmul`` reach ``addmm``, ``mm`` and ``bmm``.
PRODUCTS: dict[str, tuple[int, int, int | None]] = {
    "mm": (0, 1, None),
    "bmm": (0, 1, None),
    "addmm": (1, 2, 0),
    "baddbmm": (1, 2, 0),
    "_convolution": (0, 1, 2),
}


def _conv_shape(args: tuple) -> tuple[int, ...] | None:
    """Output shape of ``aten::_convolution(input, weight, bias, stride, padding, dilation,
    transposed, output_padding, groups, ...)``, or None where the arguments are not the plain
    batched case (the original kernel then runs, and raises what it raises)."""
    x, w = args[0], args[1]
    stride, padding, dilation, transposed, out_pad, groups = args[3:9]
    k = x.dim() - 2
    if k < 1 or w.dim() != x.dim() or not all(len(v) == k for v in (stride, padding, dilation)):
        return None
    if not x.is_contiguous():  # the kernel may return another memory format
        return None
    kernel = [w.shape[2 + i] for i in range(k)]
    if transposed:
        if len(out_pad) != k or x.shape[1] != w.shape[0]:
            return None
        channels = w.shape[1] * groups
        spatial = [(x.shape[2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1)
                   + out_pad[i] + 1 for i in range(k)]
    else:
        if x.shape[1] != w.shape[1] * groups:
            return None
        channels = w.shape[0]
        spatial = [(x.shape[2 + i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
                   for i in range(k)]
    if min(spatial) < 1:
        return None
    return (x.shape[0], channels, *spatial)


def _matmul_shape(a: Any, b: Any) -> tuple[int, ...] | None:
    """Output shape of ``mm`` (2-d) or ``bmm`` (3-d) of ``a`` and ``b``, or None where they do not match."""
    if a.dim() != b.dim() or a.dim() not in (2, 3) or a.shape[-1] != b.shape[-2]:
        return None
    if a.dim() == 3 and a.shape[0] != b.shape[0]:
        return None
    return (*a.shape[:-1], b.shape[-1])


def _kernel(name: str, original: Any) -> Callable:
    """The overriding CPU kernel of ``aten::<name>`` (see :data:`PRODUCTS`)."""
    import torch

    aten = torch.ops.aten
    left, right, bias_at = PRODUCTS[name]

    def kernel(keyset: Any, *args: Any, **kwargs: Any) -> Any:
        a, b = args[left], args[right]
        if (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype
                and a.is_floating_point() and a.device.type == "cpu" and b.device.type == "cpu"):
            small = a if a.numel() <= b.numel() else b
            if small.numel() and not aten._local_scalar_dense.default(aten.any.default(small)):
                shape = _conv_shape(args) if name == "_convolution" else _matmul_shape(a, b)
                if shape is not None:
                    return _bias_only(name, shape, a.dtype, args[bias_at] if bias_at is not None else None,
                                      kwargs.get("beta", 1))
        return original.call_boxed(keyset, *args, **kwargs)

    return kernel


def _bias_only(name: str, shape: tuple[int, ...], dtype: Any, bias: Any, beta: Any) -> Any:
    """The product's result when the product is zero: ``beta * bias`` broadcast to ``shape``.

    Built with ``torch.ops`` calls, which the tracer neither records nor reads sizes from (it
    is switched off below its dispatch key, and Python's argument parser is not involved).
    """
    import torch

    aten = torch.ops.aten
    out = aten.zeros.default(list(shape), dtype=dtype, device=torch.device("cpu"))
    if bias is not None and beta != 0:
        if name == "_convolution":
            bias = aten.view.default(bias, [1, -1] + [1] * (len(shape) - 2))
        aten.add_.Tensor(out, bias, alpha=beta)
    return out


@contextlib.contextmanager
def zero_products():
    """A context in which the CPU kernels of :data:`PRODUCTS` skip the arithmetic of products
    whose smaller operand is all zeros (see the module docstring).

    The kernels are registered with ``torch.library`` on entry and removed on exit, in every
    case (PyTorch's own kernels are then in place again). Where this torch lacks
    ``torch.library.get_kernel``, nothing is changed.

    Yields:
        None.
    Source: ``torch.library.Library("aten", "IMPL")``, ``torch.library.get_kernel``.
    """
    import torch
    import torch.library

    if not hasattr(torch.library, "get_kernel"):
        yield
        return
    lib = torch.library.Library("aten", "IMPL")
    try:
        for name in PRODUCTS:
            original = torch.library.get_kernel(f"aten::{name}", "CPU")
            lib.impl(name, _kernel(name, original), "CPU", with_keyset=True)
        yield
    finally:
        lib._destroy()
