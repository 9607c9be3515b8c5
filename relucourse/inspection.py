"""The inspection core behind :func:`relucourse.diagnostics.dead_units` and :func:`relucourse.health.health_report`.

Both tools are views of one pass made by :func:`inspect_model`: one
recorder, one snapshot and restore of the model's state, one failure
locator and one definition of each statistic, so that on the same model,
data, mode and batches they agree by construction.

What the recorder sees
----------------------
* **Activation modules**: the ``torch.nn`` activation classes
  (:data:`MODULE_KINDS`), the activation modules of other libraries matched
  by class name so that the library is never imported (transformers'
  ``GELUActivation``, ``NewGELUActivation``, ``FastGELUActivation``,
  ``QuickGELUActivation``, ``SiLUActivation``, ... in :data:`NAMED_KINDS`),
  and a user's own classes passed as ``activations={MyAct: "gelu"}``. Such a
  module is one activation; the functions it calls inside are not counted a
  second time (a ``tanh`` inside ``NewGELUActivation`` is part of its GELU).
* **Activation functions** called in a ``forward`` (``F.relu``,
  ``torch.relu``, ``Tensor.relu``, their in-place forms, ``F.gelu``,
  ``F.silu``, ``F.leaky_relu``, ``F.elu``, ``F.softplus``, ``F.hardswish``,
  ``F.mish``, ``F.relu6``, ``F.hardtanh``, ``torch.tanh``,
  ``torch.sigmoid``), seen through :class:`torch.overrides.TorchFunctionMode`
  and named by the module whose ``forward`` made the call, the function and
  a call index: ``"encoder.layers.0/relu"``, ``"block/relu (call 2)"``.
* **tanh and sigmoid as arithmetic.** ``torch.tanh`` and ``torch.sigmoid``
  are also used inside formulas (the tanh approximation of GELU, a gate).
  The rule: such a call counts as an activation layer only when its input
  is the output of a layer with weights (``nn.Linear``, a convolution,
  transformers' ``Conv1D``), directly or through reshapes; ``tanh`` of
  anything else (a polynomial of x, a product, a sum) is arithmetic and is
  not reported. The ReLU-family functions always count.
* **What it cannot see** is listed in :attr:`Inspection.unseen` instead of
  being passed over: the gates of ``nn.LSTM``, ``nn.GRU`` and ``nn.RNN``
  (computed inside one fused kernel), a transformer layer that took
  PyTorch's fused fast path, and modules whose class name looks like an
  activation but that the tool does not know (pass ``activations=``).

Units and positions
-------------------
A unit is one feature or channel. By default (``unit_dim=None``) the
dimension of units follows the layer that produced the activation's input:
the last dimension after ``nn.Linear``-like layers and layer or RMS
normalisation (a transformer's (N, tokens, features)), dimension 1 after
convolutions and batch or group normalisation ((N, C, H, W)). Every other
dimension except the batch is a position; a unit is on if it is on at any
position. Each verdict rests on the number of inputs (samples) that reached
the layer, which the reports show.

Dead, off and saturated
-----------------------
A unit is *dead* when on every input it sits where its activation's slope
is at most 0.01 (:data:`FLAT_SLOPE`): output 0 for ReLU and ReLU6 (input
<= 0); input <= 0 for LeakyReLU and PReLU whose slope below 0 is at most
0.01; input <= -3 for Hardswish (slope exactly 0 there); and, for the
smooth functions, input below the point under which the slope stays
within 0.01 of 0 (:func:`flat_below`: about -4.6 for ELU, -3.1 for GELU).
An activation whose slope below 0 stays larger (PReLU's learned 0.25,
RReLU, LeakyReLU(0.2)) has no off state and no dead units: the reports say
what slope such units keep. A unit whose input never crossed 0 but that is
not dead is *off*: for ReLU that is the same thing; for GELU or SiLU it
still passes a slope near 0.5 at 0 (chapter 4).

*Saturated* outputs of bounded activations: for the piecewise-linear ones
(ReLU6's upper bound, Hardtanh, Hardsigmoid) outputs exactly at a bound,
where the slope is exactly 0 (one step inside a bound the slope is still
1); for the smooth ones (Sigmoid, Tanh, Softsign) outputs within
``tolerance`` x the output range of a bound.

Mode
----
Both tools run the model in **training mode** by default
(``train_mode=True``): the mode in which it learns, so batch normalisation
normalises each batch with the batch's own statistics and dropout is on
(drawn from a forked random state, so the report is reproducible). With
``train_mode=False`` batch normalisation uses its running statistics, as
at test time; at initialisation those are mean 0 and variance 1, so the
layer passes its input through unscaled and a layer can look dead in eval
mode that is alive in training. Batch norm's statistics then depend on the
batch size as well: compare reports made with the same ``batch_size``.

Cost
----
One forward pass (and, for the health report, one backward pass) of the
model itself, plus per activation call a handful of reductions done in the
tensor's own precision, with no float64 copy: the largest input of each
unit, the sum of the inputs and of the outputs, and the sums of their
squares taken about the batch's mean (so that a large mean costs no
digits), merged across batches in float64 (Chan, Golub and LeVeque's
update); a float32 sum that overflows is taken again in float64. Each
call's numbers are read once, after its output is known; the gradient
norms once after the backward pass. Positives are counted only for
:func:`relucourse.diagnostics.dead_units`, which reports them. torch's
batch norm layers keep their running statistics because their updates are
switched off for the pass, not because they are copied and copied back.
``python -m tools bench-health`` measures what this costs against a plain
forward and backward pass.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field
from functools import lru_cache
from collections.abc import Mapping
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.lazy import LazyModuleMixin
from torch.overrides import TorchFunctionMode

__all__ = ["DiagnosticError", "MODULE_KINDS", "NAMED_KINDS", "FUNCTION_KINDS", "KINDS", "FLAT_SLOPE",
           "flat_below", "SiteStats", "Inspection", "inspect_model", "module_kind"]


class DiagnosticError(ValueError):
    """The diagnostic could not run; the message says why and what to do."""


#: A slope at most this large (in absolute value) counts as flat: "no gradient".
FLAT_SLOPE = 0.01


@dataclass(frozen=True)
class Kind:
    """What the tools know about one kind of activation."""

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor] | None = None   # for the slope below 0
    bounds: tuple[float | None, float | None] | None = None
    exact_bounds: bool = False           # piecewise linear: saturated means exactly at a bound
    off_state: bool = True               # has a region where the slope is (near) 0 below 0


def _gelu_tanh(x):
    return F.gelu(x, approximate="tanh")


def _quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


#: Every kind of activation the tools know, by name.
KINDS: dict[str, Kind] = {k.name: k for k in [
    Kind("relu", torch.relu),
    Kind("relu2", lambda x: torch.relu(x) ** 2),
    Kind("relu6", F.relu6, bounds=(None, 6.0), exact_bounds=True),
    Kind("leaky_relu", F.leaky_relu),
    Kind("prelu"),
    Kind("rrelu", off_state=False),
    Kind("elu", F.elu), Kind("celu", F.celu), Kind("selu", F.selu),
    Kind("gelu", F.gelu), Kind("gelu_tanh", _gelu_tanh), Kind("quick_gelu", _quick_gelu),
    Kind("silu", F.silu), Kind("mish", F.mish), Kind("softplus", F.softplus),
    Kind("hardswish", F.hardswish),
    Kind("sigmoid", bounds=(0.0, 1.0), off_state=False),
    Kind("tanh", bounds=(-1.0, 1.0), off_state=False),
    Kind("softsign", bounds=(-1.0, 1.0), off_state=False),
    Kind("hardtanh", bounds=(-1.0, 1.0), exact_bounds=True, off_state=False),
    Kind("hardsigmoid", bounds=(0.0, 1.0), exact_bounds=True, off_state=False),
    Kind("other", off_state=False),
]}

#: torch.nn activation classes and their kinds.
MODULE_KINDS: dict[type[nn.Module], str] = {
    nn.ReLU: "relu", nn.ReLU6: "relu6", nn.LeakyReLU: "leaky_relu", nn.PReLU: "prelu",
    nn.RReLU: "rrelu", nn.ELU: "elu", nn.CELU: "celu", nn.SELU: "selu", nn.GELU: "gelu",
    nn.SiLU: "silu", nn.Mish: "mish", nn.Softplus: "softplus", nn.Hardswish: "hardswish",
    nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.Softsign: "softsign", nn.Hardtanh: "hardtanh",
    nn.Hardsigmoid: "hardsigmoid", nn.LogSigmoid: "other", nn.Tanhshrink: "other",
    nn.Softshrink: "other", nn.Hardshrink: "other", nn.Threshold: "other", nn.GLU: "other",
}

#: Activation modules of other libraries, matched by class name (the library is never imported).
NAMED_KINDS: dict[str, str] = {
    "GELUActivation": "gelu", "ClippedGELUActivation": "gelu", "NewGELUActivation": "gelu_tanh",
    "FastGELUActivation": "gelu_tanh", "GELUTanh": "gelu_tanh", "PytorchGELUTanh": "gelu_tanh",
    "AccurateGELUActivation": "gelu_tanh", "QuickGELUActivation": "quick_gelu",
    "SiLUActivation": "silu", "MishActivation": "mish", "ReLUSquaredActivation": "relu2",
    "QuickGELU": "quick_gelu", "Swish": "silu", "GELUTanhApprox": "gelu_tanh",
}

_METHOD = torch.Tensor

#: Activation functions seen in forward(): function -> (name shown, kind, in place).
FUNCTION_KINDS: dict[Any, tuple[str, str, bool]] = {
    F.relu: ("relu", "relu", False), torch.relu: ("relu", "relu", False),
    _METHOD.relu: ("relu", "relu", False), torch.relu_: ("relu_", "relu", True),
    _METHOD.relu_: ("relu_", "relu", True),
    F.relu6: ("relu6", "relu6", False), F.hardtanh: ("hardtanh", "hardtanh", False),
    F.leaky_relu: ("leaky_relu", "leaky_relu", False), F.elu: ("elu", "elu", False),
    F.gelu: ("gelu", "gelu", False), F.silu: ("silu", "silu", False),
    F.softplus: ("softplus", "softplus", False), F.hardswish: ("hardswish", "hardswish", False),
    F.mish: ("mish", "mish", False), F.selu: ("selu", "selu", False), F.celu: ("celu", "celu", False),
    torch.tanh: ("tanh", "tanh", False), _METHOD.tanh: ("tanh", "tanh", False),
    torch.tanh_: ("tanh_", "tanh", True), _METHOD.tanh_: ("tanh_", "tanh", True),
    torch.sigmoid: ("sigmoid", "sigmoid", False), _METHOD.sigmoid: ("sigmoid", "sigmoid", False),
    torch.sigmoid_: ("sigmoid_", "sigmoid", True), _METHOD.sigmoid_: ("sigmoid_", "sigmoid", True),
}

_ARITHMETIC_KINDS = {"tanh", "sigmoid"}
_VIEW_OPS = {_METHOD.permute, _METHOD.reshape, _METHOD.view, _METHOD.transpose, _METHOD.contiguous,
             _METHOD.flatten, torch.reshape, torch.permute, torch.transpose, torch.flatten,
             _METHOD.unflatten, F.dropout}
_NORM_FUNCS = {F.layer_norm, F.batch_norm, F.group_norm, F.instance_norm, F.rms_norm}
_CHANNELS_FIRST = (nn.modules.conv._ConvNd, nn.modules.batchnorm._NormBase, nn.GroupNorm)
_FUSED = ("LSTM", "GRU", "RNN")


def module_kind(module: nn.Module, extra: Mapping | None = None) -> str | None:
    """The kind of activation ``module`` is (a key of :data:`KINDS`), or None if it is not one.

    Args: module: any module; extra: the user's ``{class or class name: kind}``.
    Returns: the kind's name, or None.
    Raises: nothing.
    """
    if extra:
        for key, kind in extra.items():
            if (isinstance(key, type) and isinstance(module, key)) or key == type(module).__name__:
                return kind
    return _type_kind(type(module))


@lru_cache(maxsize=None)
def _type_kind(cls: type) -> str | None:
    """:func:`module_kind` without the user's classes, once per class: the class itself, then
    another library's class of a known name, then a subclass of a ``torch.nn`` activation."""
    kind = MODULE_KINDS.get(cls)
    if kind is not None:
        return kind
    kind = NAMED_KINDS.get(cls.__name__)
    if kind is not None:
        return kind
    for base, kind in MODULE_KINDS.items():
        if issubclass(cls, base):
            return kind
    return None


@lru_cache(maxsize=None)
def _class_traits(cls: type) -> tuple[bool, int]:
    """(a normalisation layer?, dimension of units of its output), once per class."""
    name = cls.__name__
    return "Norm" in name, -1 if "Embedding" in name else (1 if issubclass(cls, _CHANNELS_FIRST) else -1)


@lru_cache(maxsize=None)
def flat_below(kind: str, slope: float | None = None) -> float | None:
    """The input below which the activation's slope stays within :data:`FLAT_SLOPE` of 0.

    Computed from the function itself on a grid from -30 to 0 (step 0.001),
    rounded down to 2 decimals, so the value is conservative.

    Args: kind: a key of :data:`KINDS`; slope: the slope below 0 of LeakyReLU or PReLU.
    Returns: the threshold, 0.0 for ReLU-like functions, None when there is no off state.
    Raises: KeyError for an unknown kind.
    """
    spec = KINDS[kind]
    if kind in ("leaky_relu", "prelu"):
        return 0.0 if slope is not None and abs(slope) <= FLAT_SLOPE else None
    if not spec.off_state or spec.fn is None:
        return None
    if kind in ("relu", "relu2", "relu6"):
        return 0.0
    with torch.enable_grad():
        x = torch.arange(-30000, 1, dtype=torch.float64) / 1000
        x.requires_grad_(True)
        (g,) = torch.autograd.grad(spec.fn(x).sum(), x)
    steep = torch.nonzero(g.abs() > FLAT_SLOPE).flatten()
    if steep.numel() == 0:
        return 0.0
    first = int(steep[0])
    return math.floor(float(x.detach()[max(first - 1, 0)]) * 100) / 100


def _flat_below(kind: str, slope: float | None = None) -> float | None:
    """:func:`flat_below` from inside a recorded pass: computed when a kind is first met (once per
    process; a ReLU network computes none), with the function mode off and autograd usable."""
    with torch._C.DisableTorchFunction(), torch.inference_mode(False):
        return flat_below(kind, slope)


def _slope_below_zero(kind: str, module: nn.Module | None, kwargs: Mapping | None = None) -> float | None:
    """The constant slope below 0 of LeakyReLU / PReLU / RReLU, else None."""
    if kind == "leaky_relu":
        if isinstance(module, nn.LeakyReLU):
            return float(module.negative_slope)
        if kwargs is not None:
            return float(kwargs.get("negative_slope", 0.01))
        return 0.01
    if kind == "prelu" and isinstance(module, nn.PReLU):
        return float(module.weight.detach().abs().max())
    if kind == "rrelu" and isinstance(module, nn.RReLU):
        return (module.lower + module.upper) / 2
    return None


def slope_text(kind: str, slope: float | None = None) -> str:
    """What a unit whose input stays below 0 keeps: chapter 4's wording, one phrase.

    Args: kind: a key of :data:`KINDS`; slope: LeakyReLU's, PReLU's or RReLU's slope.
    Returns: a phrase such as "a slope of 0.5 at 0, fading below".
    Raises: nothing.
    """
    if kind in ("relu", "relu6", "relu2"):
        return "slope exactly 0"
    if kind in ("leaky_relu", "prelu", "rrelu"):
        s = 0.01 if slope is None else slope
        return f"a slope of {s:.3g} below 0"
    if kind in ("elu", "celu"):
        return "a slope near 1 just below 0, fading further down"
    if kind == "selu":
        return "a slope near 1.76 just below 0, fading further down"
    if kind in ("gelu", "gelu_tanh", "quick_gelu", "silu", "softplus", "hardswish"):
        extra = {"hardswish": ", exactly 0 below -3",
                 "gelu": ", negative below about -0.75, fading further down",
                 "gelu_tanh": ", negative below about -0.75, fading further down"}.get(kind, ", fading below")
        return "a slope of 0.5 at 0" + extra
    if kind == "mish":
        return "a slope of about 0.6 at 0, fading below"
    return "a non-zero slope"


# -- inputs ---------------------------------------------------------------------------------------

@dataclass
class _Batch:
    args: tuple
    kwargs: dict
    y: Any
    size: int


def _leading(x) -> int | None:
    if torch.is_tensor(x):
        return int(x.shape[0]) if x.dim() > 0 else None
    if isinstance(x, Mapping):
        for v in x.values():
            n = _leading(v)
            if n is not None:
                return n
    if isinstance(x, tuple):
        for v in x:
            n = _leading(v)
            if n is not None:
                return n
    return None


def _to_tensor(x, dtype):
    if not torch.is_tensor(x) and type(x).__module__ == "numpy":
        x = torch.as_tensor(x)
        if x.is_floating_point() and dtype is not None:
            x = x.to(dtype)
    return x


def _convert(x, dtype, device):
    """numpy -> tensors (floating ones in the model's dtype), recursively; tensors to the model's device."""
    if isinstance(x, Mapping):
        return {k: _convert(v, dtype, device) for k, v in x.items()}
    if isinstance(x, tuple):
        return tuple(_convert(v, dtype, device) for v in x)
    x = _to_tensor(x, dtype)
    if torch.is_tensor(x) and device is not None and x.device != device:
        x = x.to(device)
    return x


def _slice(x, start, stop):
    if torch.is_tensor(x):
        return x[start:stop] if x.dim() > 0 else x
    if isinstance(x, Mapping):
        return {k: _slice(v, start, stop) for k, v in x.items()}
    if isinstance(x, tuple):
        return tuple(_slice(v, start, stop) for v in x)
    return x


def _make_batch(x, y) -> _Batch:
    if isinstance(x, Mapping):
        return _Batch((), dict(x), y, _leading(x) or 0)
    if isinstance(x, tuple):
        return _Batch(x, {}, y, _leading(x) or 0)
    if not torch.is_tensor(x):
        raise DiagnosticError(f"each batch must be a tensor, a tuple of tensors, a dict of tensors or an "
                              f"(inputs, targets) pair, not {type(x).__name__}.")
    if x.dim() == 0:
        raise DiagnosticError("inputs is a 0-d tensor (a single number); pass a batch of shape "
                              "(N, features) or (N, channels, ...).")
    return _Batch((x,), {}, y, int(x.shape[0]))


def iter_batches(inputs, y=None, *, batch_size: int = 256, max_batches: int | None = None,
                 dtype=None, device=None) -> Iterator[_Batch]:
    """The batches of ``inputs``: a tensor or array (cut into ``batch_size``), a tuple (positional
    inputs) or dict (keyword inputs) of tensors cut the same way, or an iterable of batches.

    Args: inputs: see above; y: targets for tensor/tuple/dict inputs; batch_size, max_batches: limits;
        dtype, device: the model's floating dtype and device.
    Returns: an iterator of batches.
    Raises: DiagnosticError for inputs of the wrong kind.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise DiagnosticError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if max_batches is not None and (not isinstance(max_batches, int) or max_batches < 1):
        raise DiagnosticError(f"max_batches must be a positive integer or None, got {max_batches!r}.")
    if inputs is None:
        raise DiagnosticError("inputs is None; pass a tensor of inputs or an iterable of batches.")
    inputs = _to_tensor(inputs, dtype)
    count = 0
    if torch.is_tensor(inputs) or isinstance(inputs, (Mapping, tuple)):
        if torch.is_tensor(inputs) and inputs.dim() == 0:
            raise DiagnosticError("inputs is a 0-d tensor (a single number); pass a batch of shape "
                                  "(N, features) or (N, channels, ...).")
        n = _leading(inputs)
        if n is None:
            raise DiagnosticError(f"inputs holds no tensor with a batch dimension: {_shape_text(inputs)}.")
        if y is not None:
            y = _to_tensor(y, None)
            if torch.is_tensor(y) and y.dim() > 0 and y.shape[0] != n:
                raise DiagnosticError(f"X has {n} inputs but y has {y.shape[0]} targets.")
        for start in range(0, n, batch_size):
            if max_batches is not None and count >= max_batches:
                return
            part = _slice(inputs, start, start + batch_size)
            yb = _slice(y, start, start + batch_size) if y is not None else None
            count += 1
            yield _Batch(*_shape(_convert(part, dtype, device), _convert(yb, None, device)))
        return
    if y is not None:
        raise DiagnosticError("y is given, but inputs is an iterable of batches: the targets must come "
                              "with the batches, as (inputs, targets) pairs (as a DataLoader gives them).")
    try:
        iterator = iter(inputs)
    except TypeError:
        raise DiagnosticError(f"inputs must be a tensor, an array or an iterable of batches, "
                              f"not {type(inputs).__name__}.") from None
    for item in iterator:
        if max_batches is not None and count >= max_batches:
            return
        target = None
        if isinstance(item, (tuple, list)):
            if not item:
                raise DiagnosticError("an (inputs, targets) item of the iterable is empty.")
            if len(item) >= 2:
                item, target = item[0], item[1]
            else:
                item = item[0]
        count += 1
        yield _Batch(*_shape(_convert(item, dtype, device), _convert(target, None, device)))


def _shape(x, y):
    b = _make_batch(x, y)
    return b.args, b.kwargs, b.y, b.size


def _shape_text(x) -> str:
    if torch.is_tensor(x):
        return str(tuple(x.shape))
    if isinstance(x, Mapping):
        return "{" + ", ".join(f"{k}: {_shape_text(v)}" for k, v in x.items()) + "}"
    if isinstance(x, (tuple, list)):
        return "(" + ", ".join(_shape_text(a) for a in x) + ")"
    return type(x).__name__


def _expected_input(module: nn.Module) -> str | None:
    if isinstance(module, nn.Linear):
        return f"(N, {module.in_features})"
    if isinstance(module, nn.Conv1d):
        return f"(N, {module.in_channels}, length)"
    if isinstance(module, nn.Conv2d):
        return f"(N, {module.in_channels}, height, width)"
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return f"{module.num_features} features or channels in dimension 1"
    return None


# -- the recorder ---------------------------------------------------------------------------------

@dataclass
class SiteStats:
    """Accumulated statistics of one activation call site over all batches (one definition each).

    ``max_in`` is the per-unit largest input (NaN counted as -inf), from
    which "dead" (max_in <= threshold) and "off" (max_in <= 0) follow.
    """

    name: str
    kind: str
    label: str                        # the class or function name shown in tables
    origin: str                       # "module" or "function"
    threshold: float | None           # dead when every input <= threshold; None: no off state
    slope: float | None               # LeakyReLU/PReLU/RReLU's slope below 0
    unit_dim: int
    bounds: tuple[float | None, float | None] | None
    exact_bounds: bool
    module: nn.Module | None = field(default=None, repr=False)
    inputs: int = 0
    entries: int = 0
    positive: float = 0.0                # inputs above 0 (counted when the pass's count_positive is on)
    pre_sum: float = 0.0
    pre_m2: float = 0.0               # sum of squared deviations from the mean (_sum_m2, _merge)
    post_sum: float = 0.0
    post_m2: float = 0.0
    post_entries: int = 0
    saturated: float = 0.0
    grad_sq: float = 0.0
    grad_entries: int = 0
    max_in: torch.Tensor | None = field(default=None, repr=False)
    nan: torch.Tensor | None = field(default=None, repr=False)
    shape: tuple | None = None
    sample: torch.Tensor | None = field(default=None, repr=False)
    # what before() computed, read with after()'s numbers: ((sum, squares, positives), input, max, dims)
    pending: tuple | None = field(default=None, repr=False)

    @property
    def units(self) -> int:
        """Number of units (features or channels)."""
        return 0 if self.max_in is None else self.max_in.numel()

    def dead_mask(self) -> torch.Tensor:
        """Per unit: True when dead (every input <= threshold). All False without an off state."""
        if self.max_in is None:
            return torch.zeros(0, dtype=torch.bool)
        if self.threshold is None:
            return torch.zeros(self.units, dtype=torch.bool)
        return (self.max_in <= self.threshold).cpu()

    def off_mask(self) -> torch.Tensor:
        """Per unit: True when the input never crossed 0."""
        if self.max_in is None:
            return torch.zeros(0, dtype=torch.bool)
        return (self.max_in <= 0).cpu()

    def counts(self) -> tuple[int, int]:
        """(dead units, off units), counted together and read at once (as the two masks count them)."""
        if self.max_in is None:
            return 0, 0
        mx = self.max_in
        if _numpy_ok(mx):                                # numpy: a microsecond a count
            a = mx.numpy()
            return (0 if self.threshold is None else int(np.count_nonzero(a <= self.threshold)),
                    int(np.count_nonzero(a <= 0)))
        if self.threshold is None:
            return 0, int((mx <= 0).sum())
        dead, off = torch.stack([(mx <= self.threshold).sum(), (mx <= 0).sum()]).tolist()
        return int(dead), int(off)

    def fractions(self) -> tuple[float | None, float]:
        """(dead units / units, or None when the activation has no off state; units whose
        input never crossed 0 / units), from one read of :meth:`counts`."""
        dead, off = self.counts()
        units = self.units
        return (None if self.threshold is None or not units else float(dead) / units,
                float(off) / units if units else 0.0)

    @property
    def dead_fraction(self) -> float | None:
        """Dead units / units, or None when the activation has no off state."""
        return self.fractions()[0]

    @property
    def pre_mean(self) -> float:
        """Mean of the inputs."""
        return self.pre_sum / self.entries if self.entries else math.nan

    @property
    def pre_std(self) -> float:
        """Standard deviation of the inputs (over every entry)."""
        return _std(self.pre_m2, self.entries)

    @property
    def mean(self) -> float:
        """Mean of the outputs."""
        return self.post_sum / self.post_entries if self.post_entries else math.nan

    @property
    def std(self) -> float:
        """Standard deviation of the outputs."""
        return _std(self.post_m2, self.post_entries)

    @property
    def saturated_fraction(self) -> float | None:
        """Share of outputs at a bound (see the module docstring), or None for unbounded activations."""
        if self.bounds is None or not self.post_entries:
            return None
        return self.saturated / self.post_entries

    @property
    def grad_rms(self) -> float:
        """Root mean square of the loss gradient arriving at the outputs (0 without a backward pass)."""
        return math.sqrt(self.grad_sq / self.grad_entries) if self.grad_entries else 0.0

    @property
    def criterion(self) -> str:
        """What "dead" meant: "output" (ReLU, ReLU6: output 0) or "input" (the others)."""
        return "output" if self.kind in ("relu", "relu6", "relu2") else "input"

    def criterion_text(self) -> str:
        """The dead criterion as a short text: ``output <= 0``, ``input <= -3.1``, ``no off state``."""
        if self.threshold is None:
            return "no off state"
        if self.criterion == "output":
            return "output <= 0"
        return f"input <= {self.threshold:g}"


def _std(m2, n) -> float:
    if n < 2:
        return 0.0 if n == 1 else math.nan
    return math.sqrt(max(m2 / (n - 1), 0.0))


def _merge(n_a: int, s_a, m2_a, n_b: int, s_b, m2_b):
    """The sum of squared deviations of two groups together (Chan, Golub and LeVeque's update),
    from each group's count, sum and sum of squared deviations (floats, or numpy arrays of them
    per feature)."""
    if n_a == 0 or n_b == 0:
        return m2_b if n_a == 0 else m2_a
    delta = s_b / n_b - s_a / n_a
    return m2_a + m2_b + delta * delta * n_a * n_b / (n_a + n_b)


def _sum_m2(d: torch.Tensor):
    """(sum, sum of squared deviations from the mean) of ``d``'s entries, as 0-dim tensors.

    Two reductions in ``d``'s own precision, no float64 copy: the sum is
    torch's (blocked) summation, and the squares are taken about the batch's
    mean, so a large mean costs no precision (the sum of squares, from which
    the old code subtracted n x mean^2, lost digits as mean/std grew).
    Batches are merged exactly in float64 (:func:`_merge`).
    """
    flat = d.reshape(-1)
    total = flat.sum()
    centred = flat - total / flat.numel()          # (not alpha=1/n: a constant must centre to 0)
    return total, torch.dot(centred, centred)


#: Below this mean square deviation float32's squares may have underflowed (deviations under
#: about 1e-19 square to subnormal numbers or 0): the sums are then taken again in float64.
_TINY_SQUARE = 1e-36


def _settled(s: float, m2: float, d: torch.Tensor) -> tuple[float, float]:
    """``d``'s sum and squared deviations as read (computed in its own precision), or taken again
    in float64 when they cannot be trusted: not finite (inf or NaN in ``d``, or a float32 sum that
    overflowed), or squares that may have underflowed."""
    trusted = d.dtype == torch.float64 or m2 >= d.numel() * _TINY_SQUARE
    if math.isfinite(s) and math.isfinite(m2) and trusted:
        return s, m2
    s, m2 = torch.stack(_sum_m2(d.double())).tolist()
    return s, m2


#: float32 norms inside this range are kept; outside it (where squares of float32 entries can
#: underflow or overflow) the norm is computed again in float64.
SAFE_NORMS = (1e-15, 1e15)


def checked_norm(v: float, t: torch.Tensor) -> float:
    """``v``, the norm of ``t`` computed in ``t``'s own precision, or ``t``'s norm again in
    float64 when ``t`` is float32 and ``v`` lies outside :data:`SAFE_NORMS` (0 included)."""
    if t.dtype == torch.float32 and not SAFE_NORMS[0] < v < SAFE_NORMS[1]:
        return float(torch.linalg.vector_norm(t.detach(), dtype=torch.float64))
    return v


def _norm(g: torch.Tensor) -> float:
    """The 2-norm of ``g``: in its own precision (no float64 copy of a whole gradient), checked by
    :func:`checked_norm`; other dtypes in float64."""
    with _NoMode():
        g = g.detach()
        if g.dtype not in (torch.float32, torch.float64):
            return float(torch.linalg.vector_norm(g, dtype=torch.float64))
        return checked_norm(float(torch.linalg.vector_norm(g)), g)


def _numpy_ok(t: torch.Tensor) -> bool:
    """Whether ``t`` is worked on through numpy (on the CPU, where numpy takes a microsecond an
    operation and torch several); elsewhere torch does the same work (the tests run both ways)."""
    return t.is_cpu


def _has_weight(m: nn.Module) -> bool:
    """Whether ``m.weight`` is a tensor, looked up where it can be without Module.__getattr__'s
    failing lookup for the many modules that have none."""
    w = m.__dict__.get("weight")
    if w is None:
        w = m._parameters.get("weight")
    if w is None:
        w = m._buffers.get("weight")
    if w is None and hasattr(type(m), "weight"):        # a property (a parametrized weight)
        w = getattr(m, "weight", None)
    return isinstance(w, torch.Tensor)


def _count(d: torch.Tensor, test) -> torch.Tensor | int:
    """Entries of ``d`` for which ``test`` (a comparison) holds: in numpy on the CPU, a few times
    faster there than torch's count of a boolean tensor; in torch elsewhere."""
    if _numpy_ok(d):
        return int(np.count_nonzero(test(d.numpy())))
    return torch.count_nonzero(test(d))


_VIEW, _NORM, _ACTIVATION = "view", "norm", "activation"
#: What the function mode does with a call: the functions it does not know are passed on at once.
_ACTIONS: dict[Any, str] = {**{f: _VIEW for f in _VIEW_OPS}, **{f: _NORM for f in _NORM_FUNCS},
                            **{f: _ACTIVATION for f in FUNCTION_KINDS}}

_NoMode = torch._C.DisableTorchFunction          # the recorder's own arithmetic bypasses the mode


def _working(x: torch.Tensor) -> torch.Tensor:
    """``x`` detached, in float32 or float64 (other dtypes converted to float32: half precision and
    integers are summed and counted in float32)."""
    d = x.detach()
    return d if d.dtype in (torch.float32, torch.float64) else d.float()


def _positive(a):
    return a > 0


def _outside(lo, hi):
    """The test "at or beyond a bound": ``>= hi`` or ``<= lo`` (a bound of None is left out)."""
    if lo is None:
        return lambda a: a >= hi
    if hi is None:
        return lambda a: a <= lo
    return lambda a: (a >= hi) | (a <= lo)


class _Mode(TorchFunctionMode):
    def __init__(self, rec: "_Recorder"):
        super().__init__()
        self.rec = rec

    def __torch_function__(self, func, types, args=(), kwargs=None):
        action = _ACTIONS.get(func)                  # every other call: this one lookup
        if action is None:
            return func(*args, **kwargs) if kwargs else func(*args)
        kwargs = kwargs or {}
        rec = self.rec
        if action is not _ACTIVATION or rec.act_depth or not rec.recording:
            out = func(*args, **kwargs)
            if action is _VIEW and args:
                rec.propagate(args[0], out)
            elif action is _NORM and args:
                rec.normalised_input(args[0])
            return out
        spec = FUNCTION_KINDS[func]
        x = args[0] if args else kwargs.get("input")
        if not torch.is_tensor(x):
            return func(*args, **kwargs)
        fname, kind, inplace = spec
        if kind in _ARITHMETIC_KINDS and rec.source(x) is None:
            return func(*args, **kwargs)
        if kwargs.get("inplace") or any(a is True for a in args[1:]):    # F.relu(x, True), ...
            inplace = True
        site = rec.function_site(fname, kind, _slope_below_zero(kind, None, kwargs), x)
        rec.before(site, x, inplace)
        out = func(*args, **kwargs)
        rec.after(site, out)
        return out


class _Recorder:
    """Hooks on every module plus the function mode; accumulates :class:`SiteStats`."""

    def __init__(self, model: nn.Module, *, extra: Mapping | None, unit_dim: int | None,
                 tolerance: float, sample_size: int, gradients: bool, modules=None,
                 count_positive: bool = True):
        self.model = model
        self.extra = extra
        self.unit_dim = unit_dim
        self.tolerance = tolerance
        self.sample_size = sample_size
        self.gradients = gradients
        self.names: dict[int, str] = {}
        self.kinds: dict[int, str | None] = {}
        self.by_id: dict[int, nn.Module] = {}
        # per module, looked up once: (a normalisation?, output from own weights?, layout)
        self.traits: dict[int, tuple[bool, bool, int]] = {}
        for name, m in (model.named_modules() if modules is None else modules):
            mid = id(m)
            self.names.setdefault(mid, name)
            self.by_id[mid] = m
            self.kinds[mid] = (module_kind(m, extra) if extra else _type_kind(type(m)))
            norm, layout = _class_traits(type(m))
            self.traits[mid] = (norm, _has_weight(m), layout)
        self.stack: list[tuple[str, nn.Module, Any]] = []
        self.act_depth = 0
        self.calls: dict[Any, int] = {}
        self.sites: dict[Any, SiteStats] = {}
        self.order: list[Any] = []
        self.layout = 1
        self.source_map: dict[int, tuple[weakref.ref, str, int]] = {}
        self.normalised: set[str] = set()
        self.called: dict[int, bool] = {}          # id(module) -> a site was recorded inside it
        self.call_order: list[int] = []
        self.first_bad: tuple[str, str] | None = None
        self.check_finite = False              # turned on to locate a non-finite loss
        self.recording = True
        self.count_positive = count_positive
        self.grads: list = []                  # (site, gradient norm, entries) from the backward pass
        self.batch_inputs = 0
        self.first_batch = True

    # sources: which layer with weights produced a tensor (through reshapes)
    def source(self, t) -> tuple[str, int] | None:
        entry = self.source_map.get(id(t))
        if entry is None or entry[0]() is not t:
            return None
        return entry[1], entry[2]

    def propagate(self, a, out):
        src = self.source(a) if torch.is_tensor(a) else None
        if src is not None and torch.is_tensor(out):
            self.source_map[id(out)] = (weakref.ref(out), *src)

    def normalised_input(self, t):
        src = self.source(t) if torch.is_tensor(t) else None
        if src is not None:
            self.normalised.add(src[0])

    def new_batch(self, size: int):
        self.calls.clear()
        self.source_map.clear()
        self.stack.clear()
        self.act_depth = 0
        self.batch_inputs = size

    # module hooks
    def pre(self, module, args):
        name = self.names.get(id(module), "?")
        self.stack.append((name, module, args))
        if id(module) not in self.called:
            self.called[id(module)] = False
            self.call_order.append(id(module))
        traits = self.traits.get(id(module))
        if traits is None:
            traits = self.traits[id(module)] = ("Norm" in type(module).__name__, False, -1)
        if traits[0] and args and torch.is_tensor(args[0]):
            self.normalised_input(args[0])
        kind = self.kinds.get(id(module))
        if kind is not None:
            if self.act_depth == 0 and self.recording:
                x = args[0] if args else None
                if torch.is_tensor(x):
                    site = self.module_site(module, kind, x)
                    self.before(site, x, bool(getattr(module, "inplace", False)))
                    module.__dict__.setdefault("_inspect_sites", []).append(site)
            self.act_depth += 1

    def post(self, module, args, output):
        name, _, _ = self.stack.pop() if self.stack else ("?", None, None)
        if self.check_finite and self.first_bad is None and not _finite(output) and _finite(args):
            self.first_bad = (name or "(model)", type(module).__name__)
        kind = self.kinds.get(id(module))
        if kind is not None:
            self.act_depth -= 1
            pending = module.__dict__.get("_inspect_sites")
            if pending and self.act_depth == 0:
                site = pending.pop()
                if torch.is_tensor(output):
                    self.after(site, output)
            return
        norm, weighted, layout = self.traits.get(id(module), (False, False, -1))
        if weighted and not norm and torch.is_tensor(output):
            self.source_map[id(output)] = (weakref.ref(output), name, layout)
            self.layout = layout
        elif norm:
            self.layout = layout

    def _enclosing(self) -> str:
        for name, m, _ in reversed(self.stack):
            return name or "(model)"
        return "(model)"

    def _mark_inside(self):
        for _, m, _ in self.stack:
            self.called[id(m)] = True

    def _dim_for(self, x) -> int:
        if self.unit_dim is not None:
            return self.unit_dim
        src = self.source(x)
        return src[1] if src is not None else self.layout

    def module_site(self, module, kind, x) -> SiteStats:
        k = self.calls.get(id(module), 0)
        self.calls[id(module)] = k + 1
        key = (id(module), k)
        self._mark_inside()
        if key not in self.sites:
            base = self.names.get(id(module)) or "(model)"
            name = base + ("" if k == 0 else f" (call {k + 1})")
            self._new_site(key, name, kind, type(module).__name__, "module",
                           _slope_below_zero(kind, module), self._dim_for(x), module)
        return self.sites[key]

    def function_site(self, fname, kind, slope, x) -> SiteStats:
        owner = self._enclosing()
        ck = (owner, fname)
        k = self.calls.get(ck, 0)
        self.calls[ck] = k + 1
        key = (owner, fname, k)
        self._mark_inside()
        if key not in self.sites:
            name = f"{owner}/{fname}" + ("" if k == 0 else f" (call {k + 1})")
            self._new_site(key, name, kind, fname + "()", "function", slope, self._dim_for(x), None)
        return self.sites[key]

    def _new_site(self, key, name, kind, label, origin, slope, unit_dim, module):
        spec = KINDS[kind]
        threshold = _flat_below(kind, slope) if kind in ("leaky_relu", "prelu") else (
            _flat_below(kind) if spec.off_state else None)
        if kind == "leaky_relu" and slope is None:
            threshold = 0.0
        bounds = spec.bounds
        if kind == "hardtanh" and isinstance(module, nn.Hardtanh):
            bounds = (float(module.min_val), float(module.max_val))
        self.sites[key] = SiteStats(name=name, kind=kind, label=label, origin=origin, threshold=threshold,
                                    slope=slope, unit_dim=unit_dim, bounds=bounds,
                                    exact_bounds=spec.exact_bounds, module=module)
        self.order.append(key)

    # statistics: computed with the function mode off (the tool's own arithmetic is not the model's);
    # the numbers of one call (its input's and its output's) are read together, in flush()
    def before(self, site: SiteStats, x: torch.Tensor, inplace: bool = False):
        # the recorder's own calls (x.dim(), x.shape, ...) bypass the function mode, which would
        # otherwise route each of them through Python
        with _NoMode():
            self._before(site, x, inplace)

    def _before(self, site: SiteStats, x: torch.Tensor, inplace: bool):
        if x.dim() < 2:
            raise DiagnosticError(
                f"layer '{site.name}' ({site.label}) received an input of shape {tuple(x.shape)}; the tool "
                "needs a batch dimension first, then features (N, F) or channels (N, C, ...).")
        ud = site.unit_dim
        if not -x.dim() <= ud < x.dim() or ud % x.dim() == 0:
            raise DiagnosticError(
                f"layer '{site.name}' ({site.label}) gave a tensor of shape {tuple(x.shape)}, in which "
                f"unit_dim={ud} is not a dimension after the batch dimension; use 1 for (N, F) or "
                "(N, C, ...) and -1 for channels-last outputs.")
        ud %= x.dim()
        units = x.shape[ud]
        if site.pending is not None:                     # an earlier call's after() never came
            self.flush(site)
        if site.max_in is not None and units != site.max_in.numel():
            raise DiagnosticError(
                f"layer '{site.name}' ({site.label}) had {site.max_in.numel()} units (shape {site.shape}) "
                f"on an earlier batch but {units} (shape {tuple(x.shape)}) now; every batch must give the "
                "layer the same number of features or channels.")
        d = _working(x)
        site.shape = tuple(d.shape)
        dims = [i for i in range(d.dim()) if i != ud]
        mx = d.amax(dim=dims)
        pos = _count(d, _positive) if self.count_positive else None
        site.pending = ((*_sum_m2(d), pos), d, mx, dims)
        if inplace:
            # the activation is about to overwrite x: its sums are read now, while a float64
            # recomputation (after an overflow) can still see the input
            self.flush(site)
        site.inputs += int(d.shape[0])

    def after(self, site: SiteStats, out: torch.Tensor):
        with _NoMode():
            d = _working(out)
            total, m2 = _sum_m2(d)
            near = None
            if site.bounds is not None:
                lo, hi = site.bounds
                if not site.exact_bounds:
                    span = self.tolerance * ((hi - lo) if lo is not None and hi is not None else 1.0)
                    lo = None if lo is None else lo + span
                    hi = None if hi is None else hi - span
                near = _count(d, _outside(lo, hi))
            self.flush(site, (total, m2), d, near)
            if site.sample is None or site.sample.numel() < self.sample_size:
                # every step-th value, copied (not a view, which would keep the activation's
                # storage alive); on the CPU through numpy's views (a microsecond, not torch's ten)
                if _numpy_ok(d):
                    flat_a = d.numpy().reshape(-1)
                    step = max(1, flat_a.size // self.sample_size)
                    part = torch.from_numpy(flat_a[::step][: self.sample_size].astype(np.float32))
                else:
                    flat = d.flatten()
                    step = max(1, flat.numel() // self.sample_size)
                    part = flat[::step][: self.sample_size].to("cpu", torch.float32, copy=True)
                site.sample = part if site.sample is None else torch.cat([site.sample, part])[: self.sample_size]
            if self.gradients and out.requires_grad:
                grads = self.grads

                def hook(g, site=site):
                    grads.append((site, _norm(g), g.numel()))
                out.register_hook(hook)

    def flush(self, site: SiteStats, post=None, d_post=None, near=None):
        """Read the input's sums from before() and, when given, the output's (one read for both)."""
        with _NoMode():
            self._flush(site, post, d_post, near)

    def _flush(self, site, post, d_post, near):
        pre, d_pre, mx, dims = site.pending if site.pending is not None else (None,) * 4
        site.pending = None
        # the tensors to read: the input's sum and squares (and its count of positives, when that
        # is a tensor), then the output's (and its count at the bounds); one read for all
        pre_t = [] if pre is None else [pre[0], pre[1]] + ([pre[2]] if torch.is_tensor(pre[2]) else [])
        post_t = [] if post is None else [post[0], post[1]] + ([near] if torch.is_tensor(near) else [])
        parts = pre_t + post_t
        if not parts:
            return
        if _numpy_ok(parts[0]):
            values = [t.item() for t in parts]          # on the CPU: cheaper than stacking them
        else:                                          # elsewhere one read (one synchronisation)
            values = torch.stack([t.double() for t in parts]).tolist()   # a count exact to 2**53
        pre_v, post_v = values[:len(pre_t)], values[len(pre_t):]
        if pre is not None:
            s, m2 = _settled(pre_v[0], pre_v[1], d_pre)
            n = d_pre.numel()
            # a NaN anywhere makes the float64 sum NaN, so a finite sum means no NaN (one check
            # instead of a second reduction); only then is the input checked entry by entry
            if not math.isfinite(s) and bool(torch.isnan(mx).any()):        # NaN counts as "not on"
                nan = torch.isnan(d_pre).sum(dim=dims) > 0
                site.nan = nan if site.nan is None else site.nan | nan
                mx = torch.nan_to_num(d_pre, nan=-math.inf).amax(dim=dims)
            site.max_in = mx if site.max_in is None else torch.maximum(site.max_in, mx)
            site.pre_m2 = _merge(site.entries, site.pre_sum, site.pre_m2, n, s, m2)
            site.pre_sum += s
            site.entries += n
            if pre[2] is not None:
                site.positive += pre_v[2] if torch.is_tensor(pre[2]) else pre[2]
        if post is not None:
            s, m2 = _settled(post_v[0], post_v[1], d_post)
            n = d_post.numel()
            site.post_m2 = _merge(site.post_entries, site.post_sum, site.post_m2, n, s, m2)
            site.post_sum += s
            site.post_entries += n
            if near is not None:
                site.saturated += post_v[2] if torch.is_tensor(near) else near

    def flush_all(self):
        """Read what is still pending (inputs whose layer gave no tensor out)."""
        for site in self.sites.values():
            if site.pending is not None:
                self.flush(site)

    def read_gradients(self):
        """Add the gradient norms the backward pass left."""
        for site, v, n in self.grads:
            site.grad_sq += v * v
            site.grad_entries += n
        self.grads.clear()

    def unseen(self) -> list[tuple[str, str, str]]:
        """(layer, class, what could not be seen) for modules that ran but hid their activations."""
        out = []
        by_id = self.by_id
        for mid in self.call_order:
            m = by_id.get(mid)
            if m is None:
                continue
            cls = type(m).__name__
            name = self.names.get(mid) or "(model)"
            if self.kinds.get(mid) is not None:
                continue
            if isinstance(m, (nn.RNNBase,)) or any(cls.endswith(s) for s in _FUSED):
                out.append((name, cls, "its gate activations (sigmoid, tanh) run inside one fused kernel"))
            elif isinstance(m, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)) and not self.called[mid]:
                out.append((name, cls, "it took PyTorch's fused fast path, which runs its feed-forward "
                                       "activation inside one kernel (it does not in training mode)"))
            elif (("Act" in cls or "GELU" in cls or "Swish" in cls or "GLU" in cls) and not self.called[mid]
                  and not any(True for _ in m.children())):
                out.append((name, cls, "its class looks like an activation the tool does not know: pass "
                                       f"activations={{{cls}: 'gelu'}} (or the right kind) to include it"))
        return out


def _hook(rec: _Recorder, modules: list[nn.Module]) -> list:
    """Put the recorder's hooks on every module; returns the handles to remove.

    Two process-wide module hooks, which pass on the calls of this model's
    modules only, cost the same whatever the size of the model (a pair of
    hooks registered on each module cost about 6 us per module and call).
    A module with hooks of its own gets the recorder's hooks after its own,
    as before, so that the recorder sees what those hooks changed (global
    hooks run before a module's own).
    """
    handles = []
    local: set[int] = set()
    for m in modules:
        if m._forward_hooks or m._forward_pre_hooks:
            local.add(id(m))
            handles.append(m.register_forward_pre_hook(rec.pre))
            handles.append(m.register_forward_hook(rec.post))
    names, pre, post = rec.names, rec.pre, rec.post

    def global_pre(module, args):
        mid = id(module)
        if mid in names and mid not in local:
            pre(module, args)

    def global_post(module, args, output):
        mid = id(module)
        if mid in names and mid not in local:
            post(module, args, output)

    from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook

    handles.append(register_module_forward_pre_hook(global_pre))
    handles.append(register_module_forward_hook(global_post))
    return handles


def _first_tensor(x):
    if torch.is_tensor(x):
        return x
    if isinstance(x, Mapping):
        x = tuple(x.values())
    if isinstance(x, (tuple, list)):
        for item in x:
            t = _first_tensor(item)
            if t is not None:
                return t
    return None


def _finite(x) -> bool:
    t = _first_tensor(x)
    if t is None or not t.is_floating_point():
        return True
    return bool(torch.isfinite(t).all())


# -- failures ------------------------------------------------------------------------------------

def failure_message(what: str, batch: _Batch, stack, err: Exception, model_dtype=None) -> str:
    """One failure locator: the innermost module running when ``err`` was raised, its input and the fix.

    Args: what: "the model"; batch: the batch that failed; stack: the recorder's module stack at the
        failure; err: the exception; model_dtype: the model's floating dtype.
    Returns: the message.
    Raises: nothing.
    """
    shape = _shape_text(batch.args[0]) if len(batch.args) == 1 and not batch.kwargs else _shape_text(
        batch.kwargs or batch.args)
    text = f"{what} failed on a batch of shape {shape}"
    if stack:
        name, module, args = stack[-1]
        if name:
            received = _shape_text(args[0]) if len(args) == 1 else _shape_text(args)
            text += f" in layer '{name}' ({type(module).__name__}), which received an input of shape {received}"
            expects = _expected_input(module)
            if expects:
                text += f" but expects {expects}"
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    text = f"{text}. PyTorch said: {first}"
    if "dtype" in str(err) or "Double" in str(err) or "same type" in str(err):
        given = _first_tensor((batch.args, batch.kwargs))
        if given is not None and model_dtype is not None and given.dtype != model_dtype:
            text += (f" The inputs are {given.dtype} but the model's parameters are {model_dtype}: "
                     f"convert one to the other (X.to({model_dtype}) or model.to({given.dtype})).")
    return text


# -- snapshot and restore ------------------------------------------------------------------------

_BATCH_NORM_FORWARD = nn.modules.batchnorm._BatchNorm.forward


class _Snapshot:
    """Train/eval flags, requires_grad flags, buffers and .grad fields; restored by :meth:`restore`.

    Every buffer is copied and copied back (batch norm updates its running
    statistics in place without moving their version counters, so a change
    cannot be told cheaply), except those of torch's own batch norm layers
    (:attr:`batch_norms`): during the pass their ``track_running_stats`` is
    off (:meth:`freeze_batch_norms`), so in training mode they normalise by
    the batch's statistics, exactly as they would have, without updating
    their running statistics, and in eval mode they never update them.
    """

    def __init__(self, model: nn.Module, modules=None, params=None, buffers=None):
        self.modules = list(model.modules()) if modules is None else modules
        self.modes = [m.training for m in self.modules]
        self.batch_norms = [m for m in self.modules
                            if type(m).forward is _BATCH_NORM_FORWARD and m.track_running_stats]
        left = {id(b) for m in self.batch_norms for b in m._buffers.values() if b is not None}
        self.buffers = [(b, b.detach().clone())
                        for b in (model.buffers() if buffers is None else buffers) if id(b) not in left]
        self.params = list(model.parameters()) if params is None else params
        self.requires = [p.requires_grad for p in self.params]
        self.grads = [p.grad for p in self.params]

    def freeze_batch_norms(self):
        """Turn off the running statistics' updates of the batch norm layers in training mode."""
        for m in self.batch_norms:
            if m.training:
                m.track_running_stats = False

    def restore(self):
        for m in self.batch_norms:
            m.track_running_stats = True
        for m, mode in zip(self.modules, self.modes):
            if m.training != mode:
                m.training = mode
            m.__dict__.pop("_inspect_sites", None)
        with torch.no_grad():
            for b, copy in self.buffers:
                if b.shape == copy.shape:
                    b.copy_(copy)
        for p, r, g in zip(self.params, self.requires, self.grads):
            if p.requires_grad != r:
                p.requires_grad_(r)
            if p.grad is not g:
                p.grad = g


# -- the pass ------------------------------------------------------------------------------------

@dataclass
class Inspection:
    """What one pass saw: the activation sites in call order, and what could not be seen."""

    sites: list[SiteStats]
    samples: int
    batches: int
    unseen: list[tuple[str, str, str]]
    normalised: set[str]
    call_order: list[str]
    loss: float = math.nan
    grads: dict[str, torch.Tensor | None] = field(default_factory=dict, repr=False)
    frozen: list[str] = field(default_factory=list)
    attention: list[str] = field(default_factory=list)
    untrained_norms: list[str] = field(default_factory=list)
    gates: list[str] = field(default_factory=list)
    input_mean: torch.Tensor | None = None
    input_std: torch.Tensor | None = None
    target_mean: float = math.nan
    target_std: float = math.nan
    float_targets: bool = False
    modules: list = field(default_factory=list, repr=False)     # (name, module) in model order
    parameters: list = field(default_factory=list, repr=False)  # (name, parameter) in model order


def _members(named: list) -> tuple[list, list]:
    """``model.named_parameters()`` and ``model.buffers()`` (each tensor once, in the same order)
    from the walk over the modules already made, instead of two more walks."""
    params, buffers, seen = [], [], set()
    for prefix, m in named:
        for name, p in m._parameters.items():
            if p is not None and id(p) not in seen:
                seen.add(id(p))
                params.append((f"{prefix}.{name}" if prefix else name, p))
        for b in m._buffers.values():
            if b is not None and id(b) not in seen:
                seen.add(id(b))
                buffers.append(b)
    return params, buffers


def model_dtype_device(model: nn.Module, tensors: list | None = None):
    """The first floating parameter's (or buffer's) dtype and the model's device.

    ``tensors``: the model's parameters then buffers, when the caller has them already."""
    dtype = device = None
    for t in (list(model.parameters()) + list(model.buffers()) if tensors is None else tensors):
        if device is None:
            device = t.device
        if dtype is None and t.is_floating_point():
            dtype = t.dtype
            break                              # the device is the first tensor's, found already
    return dtype, device


def _logits(output):
    if torch.is_tensor(output):
        return output
    logits = getattr(output, "logits", None)
    if torch.is_tensor(logits):
        return logits
    if isinstance(output, Mapping):
        if torch.is_tensor(output.get("logits")):
            return output["logits"]
        for v in output.values():
            if torch.is_tensor(v):
                return v
    if isinstance(output, (tuple, list)):
        for v in output:
            if torch.is_tensor(v):
                return v
    return None


def _own_loss(output):
    loss = getattr(output, "loss", None)
    if loss is None and isinstance(output, Mapping):
        loss = output.get("loss")
    return loss if torch.is_tensor(loss) else None


def inspect_model(model: nn.Module, inputs, y=None, *, loss_fn: Callable | None = None,
                  backward: bool = False, train_mode: bool = True, batch_size: int = 256,
                  max_batches: int | None = None, unit_dim: int | None = None,
                  activations: Mapping | None = None, tolerance: float = 0.02,
                  sample_size: int = 4000, count_positive: bool = True,
                  tool: str = "the tool") -> Inspection:
    """Run ``model`` over ``inputs`` batch by batch and record every activation it can see.

    Args: model: a torch.nn.Module; inputs: see :func:`iter_batches`; y: targets; loss_fn: the loss;
        backward: also compute the loss gradient (health report); train_mode: the mode of the pass;
        batch_size, max_batches: batching; unit_dim: None (automatic) or the dimension of units;
        activations: extra {class or class name: kind}; tolerance: saturation band of smooth bounded
        activations; sample_size: values kept per layer for histograms; count_positive: count the
        inputs above 0 (:attr:`SiteStats.positive`, which only dead_units reads); tool: name used
        in messages.
    Returns: an :class:`Inspection`.
    Raises: DiagnosticError with the cause and the fix for every failure.
    """
    if not isinstance(model, nn.Module):
        raise DiagnosticError(f"model must be a torch.nn.Module, not {type(model).__name__}.")
    if unit_dim is not None and (isinstance(unit_dim, bool) or not isinstance(unit_dim, int)):
        raise DiagnosticError(f"unit_dim must be an integer dimension or None, got {unit_dim!r}.")
    if activations is not None:
        if not isinstance(activations, Mapping):
            raise DiagnosticError("activations must be a dict {activation class: kind}, for example "
                                  "{MyAct: 'gelu'}.")
        for key, kind in activations.items():
            if kind not in KINDS:
                raise DiagnosticError(f"activations maps {key!r} to {kind!r}, which is not a kind the tool "
                                      f"knows; use one of {sorted(KINDS)}.")
    if backward and torch.is_inference_mode_enabled():
        raise DiagnosticError(f"{tool} was called inside torch.inference_mode(), where no gradient can be "
                              "computed; call it outside that block (torch.no_grad() is fine around other "
                              "code, the report turns gradients on for its own pass).")
    named = list(model.named_modules())                 # one walk over the model, shared
    modules = [m for _, m in named]
    named_params, buffers = _members(named)
    params = [p for _, p in named_params]
    lazy = [n for n, m in named if isinstance(m, LazyModuleMixin) and m.has_uninitialized_params()]
    if lazy:
        raise DiagnosticError(
            f"{tool} needs a model whose parameters exist, but the lazy layer(s) "
            f"{', '.join(repr(n or '(model)') for n in lazy)} have not seen an input yet; run one batch "
            "through the model first (model(X[:1])), which creates their weights.")
    dtype, device = model_dtype_device(model, params + buffers)
    snap = _Snapshot(model, modules, params, buffers)
    rec = _Recorder(model, extra=activations, unit_dim=unit_dim, tolerance=tolerance,
                    sample_size=sample_size, gradients=backward, modules=named, count_positive=count_positive)
    handles = []
    samples = batches = 0
    loss_total = 0.0
    grads_acc: list | None = None
    first_weight = 0
    trainable = [(n, p) for n, p in named_params if p.requires_grad]
    frozen = [n for n, p in named_params if not p.requires_grad]
    in_moments = None                                  # per feature: sum, squared deviations, count
    t_sum = t_sq = 0.0
    t_n = 0
    float_targets = False
    devices = [device] if device is not None and device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            handles = _hook(rec, modules)
            if any(m.training != train_mode for m in modules):
                model.train(train_mode)
            snap.freeze_batch_norms()
            mode = _Mode(rec)
            grad_ctx = torch.enable_grad if backward else torch.no_grad
            for batch in iter_batches(inputs, y, batch_size=batch_size, max_batches=max_batches,
                                      dtype=dtype, device=device):
                if batch.size == 0:
                    continue
                rec.new_batch(batch.size)
                first = _first_tensor((batch.args, batch.kwargs))
                if first is not None and first.is_floating_point():
                    moments = _feature_moments(first)
                    # NaN or inf in X makes the sums non-finite; only then is X looked at entry by
                    # entry (a finite X whose squares overflow float64 passes, as before)
                    if not math.isfinite(moments[1].sum() + moments[0].sum()) and \
                            not bool(torch.isfinite(first).all()):
                        raise DiagnosticError("X contains NaN or inf; clean the inputs first.")
                    if in_moments is None:
                        in_moments = moments
                    elif in_moments[2] >= 0 and in_moments[0].shape == moments[0].shape:
                        in_moments = _merge_features(in_moments, moments)
                    else:
                        in_moments = (None, None, -1)   # features change between batches: no input check
                with grad_ctx(), mode:
                    try:
                        output = model(*batch.args, **batch.kwargs)
                    except DiagnosticError:
                        raise
                    except (RuntimeError, ValueError, TypeError, IndexError, KeyError, AttributeError) as err:
                        stack = list(rec.stack)
                        raise DiagnosticError(failure_message("the model", batch, stack, err, dtype)) from err
                rec.flush_all()
                samples += batch.size
                batches += 1
                if not backward:
                    continue
                with torch.enable_grad():
                    loss, yb = _loss(output, batch, loss_fn, tool)
                    if yb is not None and torch.is_tensor(yb) and yb.is_floating_point():
                        float_targets = True
                        yd = yb.detach().double()
                        t_sum += float(yd.sum())
                        t_sq += float((yd * yd).sum())
                        t_n += yd.numel()
                    loss_value = float(loss.detach())
                    if not math.isfinite(loss_value):
                        rec.check_finite, rec.recording = True, False
                        rec.new_batch(batch.size)
                        with torch.no_grad():
                            model(*batch.args, **batch.kwargs)      # again, to find the first bad layer
                        where = ("the loss function itself" if rec.first_bad is None else
                                 f"layer '{rec.first_bad[0]}' ({rec.first_bad[1]})")
                        raise DiagnosticError(
                            f"the loss is {loss_value}: not finite. The first non-finite value came "
                            f"from {where}. Look for weights that are too large, a learning rate that made "
                            "training diverge, or a log/division of zero.")
                    if not loss.requires_grad:
                        if not trainable:
                            raise DiagnosticError(
                                "every parameter of the model is frozen (requires_grad=False), so there is no "
                                "gradient to look at; unfreeze the layers you train (p.requires_grad_(True)).")
                        raise DiagnosticError(
                            "the loss does not depend on any trainable parameter: the model's output was "
                            "detached, or loss_fn ignores it. Pass a loss_fn that uses the output, and do not "
                            "call .detach(), .item() or torch.no_grad() inside forward().")
                    g = torch.autograd.grad(loss, [p for _, p in trainable], allow_unused=True)
                    rec.read_gradients()
                w = batch.size
                loss_total += loss_value * w
                # the size-weighted sum of the batches' gradients; the first batch is weighted only
                # once a second one comes (one batch: its gradient as it is, no copy, no scaling)
                if grads_acc is None:
                    grads_acc, first_weight = list(g), w
                else:
                    if first_weight:
                        grads_acc = [None if t is None else t.mul_(first_weight) for t in grads_acc]
                        first_weight = 0
                    for i, t in enumerate(g):
                        if t is None:
                            continue
                        grads_acc[i] = t.mul_(w) if grads_acc[i] is None else grads_acc[i].add_(t, alpha=w)
                del output, loss, g
    finally:
        for h in handles:
            h.remove()
        snap.restore()
    if samples == 0:
        raise DiagnosticError("inputs holds no samples (an empty tensor or an iterable with no batches); "
                              "a unit can only be judged on at least one input.")
    sites = [rec.sites[k] for k in rec.order]
    unseen = rec.unseen()
    if not sites:
        hidden = "; ".join(f"'{n}' ({c}): {why}" for n, c, why in unseen)
        raise DiagnosticError(
            f"{tool} found no activation in {type(model).__name__}: no activation module "
            "(nn.ReLU, nn.GELU, ...) ran, and forward() called none of the activation functions it "
            "watches (F.relu, torch.relu, F.gelu, F.silu, torch.tanh on a layer's output, ...)."
            + (f" What it could not see: {hidden}." if hidden else "")
            + " If the model uses an activation class of its own, pass activations={MyAct: 'gelu'}; "
            "x.clamp(min=0) and other arithmetic are not recognised as activations.")
    info = Inspection(sites=sites, samples=samples, batches=batches, unseen=unseen,
                      normalised=set(rec.normalised),
                      call_order=[rec.names.get(i, "") for i in rec.call_order], frozen=frozen,
                      float_targets=float_targets,
                      attention=[n for n, m in named if "Attention" in type(m).__name__],
                      gates=[n for n, m in named if "SqueezeExcit" in type(m).__name__],
                      untrained_norms=[] if train_mode else _untrained_norms(model))
    info.modules = named
    info.parameters = named_params
    if in_moments is not None and in_moments[2] > 0:
        in_sum, in_m2, in_n = in_moments
        info.input_mean = torch.from_numpy(in_sum / in_n)
        info.input_std = torch.from_numpy(np.sqrt(np.maximum(in_m2 / max(in_n - 1, 1), 0.0)))
    if t_n:
        info.target_mean = t_sum / t_n
        info.target_std = math.sqrt(max((t_sq - t_sum * t_sum / t_n) / max(t_n - 1, 1), 0.0))
    if backward:
        info.loss = loss_total / samples
        scale = 1 if first_weight else samples           # one batch: already its mean gradient
        info.grads = {n: (None if t is None else t if scale == 1 else t.div_(scale))
                      for (n, _), t in zip(trainable, grads_acc or [])}
        if trainable and all(t is None or not bool(t.any()) for t in info.grads.values()):
            raise DiagnosticError(
                "every gradient is exactly 0, so the report would be empty of meaning. Common causes: a "
                "regression model whose loss is cross-entropy (pass loss_fn=nn.MSELoss() for a regression "
                "model), a loss that is constant, or an output layer with zero weights.")
    return info


def _feature_moments(x: torch.Tensor):
    """Per feature: the sum and the sum of squared deviations from the feature's mean in this
    batch (float64 numpy arrays), and the count per feature. Features are dimension 1 (columns,
    channels). Small inputs in float64 numpy (a microsecond an operation), larger ones in
    torch, in the input's precision (squares about the mean lose nothing to an offset), again in
    float64 should that overflow."""
    d = x.detach()
    if d.dim() == 1:
        d = d[:, None]
    dims = tuple(i for i in range(d.dim()) if i != 1)
    n = d.numel() // d.shape[1]
    centre = [1] * d.dim()
    centre[1] = d.shape[1]
    if _numpy_ok(d) and d.dtype in (torch.float32, torch.float64) and d.numel() <= 1 << 16:
        a = d.numpy().astype(np.float64)
        s = a.sum(axis=dims)
        c = a - (s / n).reshape(centre)
        return s, np.square(c).sum(axis=dims), n
    if d.dtype not in (torch.float32, torch.float64):
        d = d.float()
    while True:
        s = d.sum(dim=dims)
        c = d - (s / n).reshape(centre)
        both = torch.stack([s, c.mul_(c).sum(dim=dims)]).double().cpu().numpy()   # c is our own
        if d.dtype == torch.float64 or np.isfinite(both).all():
            return both[0], both[1], n
        d = d.double()                                  # float32 overflowed (or X holds NaN/inf)


def _merge_features(a, b):
    """Two batches' per-feature (sum, sum of squared deviations, count) together (:func:`_merge`)."""
    (s_a, m2_a, n_a), (s_b, m2_b, n_b) = a, b
    return s_a + s_b, _merge(n_a, s_a, m2_a, n_b, s_b, m2_b), n_a + n_b


def _loss(output, batch: _Batch, loss_fn, tool):
    yb = batch.y
    own = _own_loss(output)
    if loss_fn is None and yb is None:
        if own is not None:
            return own, None
        if batch.kwargs and "labels" not in batch.kwargs:
            raise DiagnosticError(
                "the batches hold inputs only, no targets, and the model computed no loss of its own: "
                "give the batches labels (a 'labels' entry for a transformers model), iterate (inputs, "
                "targets) pairs, or pass loss_fn(output) that computes the loss from the output alone.")
        raise DiagnosticError(
            "y is missing and no loss_fn is given (the batches hold inputs only, no targets): pass the "
            "targets y (the loss is then cross-entropy), a DataLoader of (inputs, targets) pairs, or a "
            "loss_fn(output) that computes the loss from the output alone.")
    logits = _logits(output)
    if logits is None:
        raise DiagnosticError(f"the model's output ({type(output).__name__}) holds no tensor to compute a "
                              "loss from; return a tensor, a tuple or a dict with 'logits'.")
    if loss_fn is None:
        if torch.is_tensor(yb) and yb.is_floating_point():
            raise DiagnosticError(
                "y is floating point, a regression target, and the default loss is cross-entropy for "
                "class labels: pass loss_fn=nn.MSELoss() for a regression model (or "
                "loss_fn=nn.CrossEntropyLoss() if y really holds class probabilities).")
        loss_fn = F.cross_entropy                 # what nn.CrossEntropyLoss() calls, without a module
    try:
        loss = loss_fn(logits) if yb is None else loss_fn(logits, yb)
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        said = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DiagnosticError(
            f"the loss failed on outputs of shape {_shape_text(logits)} and targets of shape "
            f"{_shape_text(yb)}. PyTorch said: {said}") from err
    if not torch.is_tensor(loss) or loss.numel() != 1:
        raise DiagnosticError(f"loss_fn must return one number (a 1-element tensor); got "
                              f"{_shape_text(loss)}.")
    return loss.reshape(()), yb


def locate_failure(model: nn.Module, inputs: torch.Tensor, err: Exception) -> str:
    """The failure message for a model that raised ``err`` on ``inputs`` outside a recorded pass.

    Runs ``inputs`` once more with a hook on every module to find the innermost
    module running when it fails, then words it as :func:`failure_message` does.

    Args: model: the model; inputs: one batch (a tensor); err: the exception it raised.
    Returns: the message.
    Raises: nothing.
    """
    stack: list = []
    found: list = []
    handles = []
    for name, m in model.named_modules():
        handles.append(m.register_forward_pre_hook(
            lambda mod, args, name=name: stack.append((name, mod, args))))
        handles.append(m.register_forward_hook(lambda mod, args, out: stack.pop()))
    try:
        model(inputs)
    except Exception:  # noqa: BLE001 - the failure we are locating
        found = list(stack)
    finally:
        for h in handles:
            h.remove()
    dtype, _ = model_dtype_device(model)
    return failure_message("the model", _Batch((inputs,), {}, None, int(inputs.shape[0])), found, err, dtype)


def _untrained_norms(model: nn.Module) -> list[str]:
    """Batch-norm layers whose running statistics have never been updated (used in eval mode)."""
    out = []
    for name, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            tracked = getattr(m, "num_batches_tracked", None)
            if tracked is not None and int(tracked) == 0:
                out.append(name)
    return out
