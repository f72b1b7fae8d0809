"""Which pixels made the model decide, and how its answer moves when the drawing is nudged.

Four ways to ask "why", each giving one (28, 28) map per class asked about:

- ``occlusion(model, image)``: cover the 28×28 input with a black patch at every position (all
  positions in ONE batch through ``activations.probabilities``) and record how much each class's
  probability drops. Positive = this region supported the class; negative = it argued against it.
- ``logit_gradient(model, image, digits)``: the signed gradient ∂ logit / ∂ pixel (``tf.GradientTape``).
  The logit, not the probability: a 100 %-sure probability is flat, so its gradient is ~0 and the
  same shape for every class.
- ``integrated_gradients(model, image, digits)``: the gradient averaged along the straight path from a
  black image to the drawing, times the pixel's value; the maps add up to logit(x) − logit(black).
- ``grad_cam(model, image, digits)``: the last convolution block's maps (conv2 in the course CNN)
  weighted by how much each map moves the logit, then ReLU; coarse (14×14 for the course CNN).

``compare(model, image, digits, method)`` returns two such maps and the one colour scale they share.
Gradients come from compiled ``tf.function`` s built once per model (a weak cache, as ``activations``).

- ``nudge(image, ...)``: rotate, shift and thicken (or thin) a (28, 28) digit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from . import activations
from .data import INPUT_PIXELS, INPUT_SIDE as SIDE


@dataclass(frozen=True)
class Occlusion:
    """How much each class's probability drops when a patch covers each pixel."""

    drop: np.ndarray  # (10, 28, 28): baseline probability minus the covered probability, averaged per pixel
    baseline: np.ndarray  # (10,) probabilities of the uncovered image
    patch: int
    stride: int

    def for_digit(self, digit: int) -> np.ndarray:
        """The (28, 28) map of one class."""
        return self.drop[digit]


def occluded_batch(image: np.ndarray, patch: int = 6, stride: int = 3,
                   fill: float = 0.0) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Copies of ``image`` (28, 28), each with a ``patch``×``patch`` square set to ``fill``; and each square's top-left corner."""
    image = np.asarray(image, np.float32).reshape(SIDE, SIDE)
    corners = [(r, c) for r in range(0, SIDE - patch + 1, stride) for c in range(0, SIDE - patch + 1, stride)]
    batch = np.repeat(image[None], len(corners), axis=0)
    for k, (r, c) in enumerate(corners):
        batch[k, r:r + patch, c:c + patch] = fill
    return batch, corners


def occlusion(model, image: np.ndarray, patch: int = 6, stride: int = 3, fill: float = 0.0) -> Occlusion:
    """Occlusion maps for all ten classes from one forward pass over every covered copy (8×8 positions by default)."""
    batch, corners = occluded_batch(image, patch, stride, fill)
    # Two calls (1 + 64 images) rather than one of 65: both sizes are ones the compiled path already has.
    baseline = activations.probabilities(model, np.asarray(image, np.float32).reshape(1, SIDE, SIDE))[0]
    covered = activations.probabilities(model, batch)
    total = np.zeros((10, SIDE, SIDE), np.float64)
    count = np.zeros((SIDE, SIDE), np.float64)
    for (r, c), p in zip(corners, covered):
        total[:, r:r + patch, c:c + patch] += (baseline - p)[:, None, None]
        count[r:r + patch, c:c + patch] += 1
    drop = (total / np.maximum(count, 1)).astype(np.float32)
    return Occlusion(drop=drop, baseline=baseline, patch=patch, stride=stride)


class NotApplicable(ValueError):
    """A method this model cannot answer (Grad-CAM without a convolution, no logits to find); one sentence."""


def _is_softmax(activation) -> bool:
    return getattr(activation, "__name__", "") == "softmax"


def _logit_source(model):
    """Where the logits are: ``(tensor, dense)``, the Keras tensor that is (or, through ``dense``, gives) the
    logits. A ``Softmax``/softmax ``Activation`` layer at the end reads the logits; a ``Dense`` with a softmax
    activation computes them inside (``dense`` is then that layer: logits = tensor · kernel + bias)."""
    import keras

    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax) or (isinstance(last, keras.layers.Activation)
                                                  and _is_softmax(last.activation)):
        return last.input, None
    if isinstance(last, keras.layers.Dense) and _is_softmax(last.activation):
        return last.input, last
    raise NotApplicable(f"This model ends with a {type(last).__name__} layer, not a softmax, so its logits "
                        "cannot be found; the gradient methods need them.")


def gradcam_layer(model) -> str | None:
    """The layer Grad-CAM reads: the last ``Conv2D`` (conv2 in the course CNN), or the batch norm and
    activation right after it when it has them (its rectified output); ``None`` for a model without one."""
    import keras

    layers = list(model.layers)
    convs = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Conv2D)]
    if not convs:
        return None
    i = convs[-1]
    while i + 1 < len(layers) and isinstance(layers[i + 1], (keras.layers.BatchNormalization, keras.layers.Activation,
                                                             keras.layers.ReLU)):
        i += 1
    return layers[i].name


class _LogitsAndMaps:
    """``x (N, 784) → (logits (N, 10) float32, maps of the Grad-CAM layer or None)``, one forward pass.

    A callable object, not a function: TensorFlow counts the traces of every ``tf.function`` made from
    the same code together and would warn about retracing after a few models (see ``activations._Forward``)."""

    def __init__(self, model):
        import keras

        source, self.dense = _logit_source(model)
        self.cam_layer = gradcam_layer(model)
        outputs = [source] + ([model.get_layer(self.cam_layer).output] if self.cam_layer else [])
        self.probe = keras.Model(model.inputs[0], outputs)

    def __call__(self, x):
        import keras
        import tensorflow as tf

        out = self.probe(x, training=False)
        out = list(out) if isinstance(out, (list, tuple)) else [out]
        z = out[0]
        if self.dense is not None:
            z = keras.ops.matmul(z, self.dense.kernel)
            if self.dense.use_bias:
                z = z + self.dense.bias
        return tf.cast(z, tf.float32), (out[1] if len(out) > 1 else None)


class _RowGradient:
    """``(x (N, 784), digits (N,)) → (logit of digits[i] for row i (N,), its gradient (N, 784))``."""

    def __init__(self, forward: _LogitsAndMaps):
        self.forward = forward

    def __call__(self, x, digits):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            z = tf.gather(self.forward(x)[0], digits, axis=1, batch_dims=1)
        return z, tape.gradient(z, x)  # rows are independent, so d(sum)/dx row i = d z_i / d x_i


class _GradCam:
    """``(x (N, 784), digits (N,)) → (Grad-CAM maps (N, h, w), the layer's maps (N, h, w, C))``."""

    def __init__(self, forward: _LogitsAndMaps):
        self.forward = forward

    def __call__(self, x, digits):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            z, maps = self.forward(x)
            z = tf.gather(z, digits, axis=1, batch_dims=1)
        grads = tape.gradient(z, maps)
        weights = tf.reduce_mean(grads, axis=[1, 2], keepdims=True)  # one weight per map: its mean gradient
        return tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1)), maps


class _Explainer:
    """A model's compiled gradient functions, built once (``NotApplicable`` if its logits cannot be found).

    Plain ``tf.function`` s, not XLA: XLA made a two-digit gradient ~3× faster (10 vs 40 ms) but took
    ~4.5 s to compile for each model on first use, against ~0.4 s, and its convolution gradients made
    the path of integrated gradients ~2× slower."""

    def __init__(self, model):
        import tensorflow as tf

        self.forward = _LogitsAndMaps(model)
        self.cam_layer = self.forward.cam_layer
        spec = [tf.TensorSpec([None, INPUT_PIXELS], tf.float32), tf.TensorSpec([None], tf.int32)]
        kinds = {"row_gradient": _RowGradient} | ({"grad_cam": _GradCam} if self.cam_layer else {})
        self._fns = {name: tf.function(make(self.forward), input_signature=spec) for name, make in kinds.items()}

    def __call__(self, name: str, x: np.ndarray, digits: np.ndarray):
        """The compiled ``name`` ("row_gradient" or "grad_cam") on ``(x (N, 784), digits (N,))``, as NumPy."""
        return tuple(t.numpy() for t in self._fns[name](x, digits))


_explainer = activations.PerModel(_Explainer)  # one compiled explainer per model


def _rows(image: np.ndarray, digits) -> tuple[np.ndarray, np.ndarray]:
    """The image repeated once per digit asked about: ``(k, 784)`` float32 and the digits ``(k,)`` int32."""
    digits = np.atleast_1d(np.asarray(digits, np.int32))
    return np.repeat(activations.as_batch(image)[:1], len(digits), axis=0), digits


def logit_gradient(model, image: np.ndarray, digits) -> np.ndarray:
    """Signed ∂ logit(d) / ∂ pixel for each digit ``d`` in ``digits``: ``(k, 28, 28)`` float32 (one compiled call).
    Positive: more ink there raises that digit's score."""
    x, d = _rows(image, digits)
    _, grad = _explainer(model)("row_gradient", x, d)
    return grad.reshape(-1, SIDE, SIDE)


@dataclass(frozen=True)
class IntegratedGradients:
    """Integrated gradients from a baseline image to the input, one map per digit asked about."""

    maps: np.ndarray  # (k, 28, 28): (x − baseline) · the average gradient of logit(d) along the path
    logit: np.ndarray  # (k,) logit(d) of the input
    baseline_logit: np.ndarray  # (k,) logit(d) of the baseline
    steps: int  # trapezoid steps used (the most any digit needed)

    @property
    def completeness_gap(self) -> np.ndarray:
        """(k,) |Σ map − (logit − baseline logit)| as a fraction of |logit − baseline logit|: 0 when exact."""
        change = self.logit - self.baseline_logit
        return np.abs(self.maps.reshape(len(self.maps), -1).sum(axis=1) - change) / np.maximum(np.abs(change), 1e-6)


IG_STEPS = 32  # the first try; halved while the sums miss the logit change by more than IG_TOLERANCE
IG_MAX_STEPS = 128
IG_TOLERANCE = 0.01  # completeness: the issue asks for 1 %


def integrated_gradients(model, image: np.ndarray, digits, baseline: np.ndarray | None = None,
                         steps: int = IG_STEPS, max_steps: int = IG_MAX_STEPS,
                         tolerance: float = IG_TOLERANCE) -> IntegratedGradients:
    """Integrated gradients of each digit's logit, from ``baseline`` (default: a black image) to ``image``
    (28, 28), by the trapezoid rule over ``steps`` equal steps (the ``steps + 1`` images in ONE compiled call).
    While a digit's map misses its logit change by more than ``tolerance`` (a fraction), its steps are
    halved, up to ``max_steps``; each halving computes only the new midpoints. ``steps``: the most used."""
    x = activations.as_batch(image)[:1]
    b = np.zeros_like(x) if baseline is None else activations.as_batch(baseline)[:1]
    ex = _explainer(model)
    parts = [_integrate(ex, x, b, int(d), steps, max_steps, tolerance) for d in np.atleast_1d(digits)]
    return IntegratedGradients(maps=np.stack([p.maps[0] for p in parts]), logit=np.concatenate([p.logit for p in parts]),
                               baseline_logit=np.concatenate([p.baseline_logit for p in parts]),
                               steps=max(p.steps for p in parts))


def _integrate(ex: _Explainer, x: np.ndarray, b: np.ndarray, digit: int, steps: int, max_steps: int,
               tolerance: float) -> IntegratedGradients:
    """``integrated_gradients`` of one digit, from ``b`` (1, 784) to ``x`` (1, 784)."""

    def on_path(alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The logit ``(n,)`` and its gradient ``(n, 784)`` at ``b + alpha · (x − b)`` for each alpha."""
        return ex("row_gradient", b + alphas[:, None] * (x - b), np.full(len(alphas), digit, np.int32))

    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
    z, grad = on_path(alphas)
    while True:
        weights = np.full(len(alphas), 1.0 / steps, np.float32)
        weights[[0, -1]] /= 2
        maps = ((x - b) * (weights @ grad)).reshape(1, SIDE, SIDE).astype(np.float32)
        result = IntegratedGradients(maps=maps, logit=z[-1:], baseline_logit=z[:1], steps=steps)
        if steps * 2 > max_steps or result.completeness_gap.max() <= tolerance:
            return result
        mid = (alphas[:-1] + alphas[1:]) / 2
        z_mid, grad_mid = on_path(mid)
        order = np.argsort(np.concatenate([alphas, mid]), kind="stable")
        alphas = np.concatenate([alphas, mid])[order]
        z = np.concatenate([z, z_mid])[order]
        grad = np.concatenate([grad, grad_mid])[order]
        steps *= 2


@dataclass(frozen=True)
class GradCam:
    """Grad-CAM on one layer, one map per digit asked about."""

    layer: str  # the layer read, e.g. "conv2"
    maps: np.ndarray  # (k, h, w): ReLU(Σ_c weight_c · map_c), weight_c = mean of ∂ logit(d) / ∂ map_c
    activations: np.ndarray  # (h, w, C): the layer's own maps for the input

    def on_input(self) -> np.ndarray:
        """The maps blown up to the (28, 28) input, each cell a block (nearest): ``(k, 28, 28)``."""
        k, h, w = self.maps.shape
        rows = np.arange(SIDE) * h // SIDE
        cols = np.arange(SIDE) * w // SIDE
        return self.maps[:, rows][:, :, cols]


def grad_cam(model, image: np.ndarray, digits) -> GradCam:
    """Grad-CAM of each digit's logit on the last convolution block (``gradcam_layer``); ``NotApplicable``
    for a model without a ``Conv2D`` layer (an MLP)."""
    ex = _explainer(model)
    if ex.cam_layer is None:
        raise NotApplicable("Grad-CAM reads the maps of a convolution layer, and this model has none "
                            "(it is a multi-layer perceptron); try the other methods.")
    x, d = _rows(image, digits)
    cams, maps = ex("grad_cam", x, d)
    return GradCam(layer=ex.cam_layer, maps=cams, activations=maps[0])


@dataclass(frozen=True)
class Method:
    key: str
    label: str  # what the page's radio says
    unit: str  # what the map's values are, for the printed scale
    title: str  # a map's title, "{d}" standing for its digit
    shows: str  # one sentence: what the map shows
    misleads: str  # one sentence: when it misleads


METHODS: dict[str, Method] = {m.key: m for m in [
    Method("occlusion", "Cover a patch", "drop of probability", "Drop of p({d}) when a patch covers each pixel",
           "How much the probability of the digit drops when a 6×6 black patch hides each place.",
           "It only sees what hiding a 6×6 patch changes: evidence repeated elsewhere in the drawing, or a "
           "probability pinned at 100 %, shows as almost nothing, and the map is as blurry as the patch."),
    Method("gradient", "Gradient", "logit per unit of ink", "Gradient of logit({d}) at each pixel",
           "How much a tiny bit more ink at each pixel would raise (red) or lower (blue) the digit's score (logit).",
           "It describes the model only right around this drawing: it is noisy, and it can be large on empty "
           "background that no real stroke would change."),
    Method("integrated_gradients", "Integrated gradients", "share of the logit",
           "Each pixel's share of logit({d}), from black",
           "Each pixel's share of the digit's score, collected while the drawing fades in from a black image; "
           "the shares add up to the score's change from black.",
           "The shares are measured against a black image, so black pixels get none, even where the "
           "missing ink is the reason (an open loop that makes a 0 into a 6)."),
    Method("grad_cam", "Grad-CAM", "weighted conv activation", "Where logit({d}) relies on the last conv maps",
           "Which places of the last convolution layer's maps the digit's score relies on, weighted by their "
           "gradient and cut at zero.",
           "It is coarse (one cell per 2×2 pixels or more) and shows only support: a digit the model rejects "
           "can light up as much as the one it picks, because the evidence against it is cut away."),
]}


@dataclass(frozen=True)
class Compared:
    """Two maps of one method on one colour scale."""

    method: Method
    digits: tuple[int, ...]
    maps: np.ndarray  # (k, 28, 28)
    scale: float  # the largest |value| of all maps: draw them all from −scale to +scale
    note: str = ""  # a fact worth printing with the maps (Grad-CAM's layer, integrated gradients' check)


def shared_scale(*maps: np.ndarray) -> float:
    """The largest |value| over all the maps: one colour scale, ±that, for all of them."""
    return max((float(np.max(np.abs(m))) for m in maps if np.size(m)), default=0.0)


def compare(model, image: np.ndarray, digits, method: str) -> Compared:
    """The maps of ``method`` (a ``METHODS`` key) for each of ``digits`` on the input ``image`` (28, 28), with
    their shared scale. ``NotApplicable`` when the model cannot answer that method (one sentence)."""
    digits = tuple(int(d) for d in np.atleast_1d(digits))
    note = ""
    if method == "occlusion":
        occ = occlusion(model, image)
        maps = occ.drop[list(digits)]
    elif method == "gradient":
        maps = logit_gradient(model, image, digits)
    elif method == "integrated_gradients":
        ig = integrated_gradients(model, image, digits)
        maps = ig.maps
        note = "; ".join(f"digit {d}: the map adds up to {s:+.2f}, its logit moved {c:+.2f} from a black image"
                         for d, s, c in zip(digits, ig.maps.reshape(len(digits), -1).sum(axis=1),
                                            ig.logit - ig.baseline_logit))
    elif method == "grad_cam":
        cam = grad_cam(model, image, digits)
        maps = cam.on_input()
        h, w = cam.maps.shape[1:]
        note = f"read on {cam.layer}'s {cam.activations.shape[-1]} maps of {h}×{w}"
    else:
        raise KeyError(f"unknown method {method!r}; one of {list(METHODS)}")
    maps = np.asarray(maps, np.float32)
    return Compared(METHODS[method], digits, maps, shared_scale(*maps), note)

def nudge(image: np.ndarray, angle: float = 0.0, dx: float = 0.0, dy: float = 0.0, thicken: int = 0) -> np.ndarray:
    """Rotate by ``angle`` degrees (anticlockwise) about the centre, shift by (``dx``, ``dy``) pixels
    (right, down), then thicken (``thicken`` > 0, grey dilation) or thin (< 0, grey erosion) the
    strokes by that many pixels. (28, 28) in [0, 1] → (28, 28) float32 in [0, 1]."""
    out = np.asarray(image, np.float32).reshape(SIDE, SIDE)
    if angle:
        out = ndimage.rotate(out, angle, reshape=False, order=1, mode="constant", cval=0.0)
    if dx or dy:
        out = ndimage.shift(out, (dy, dx), order=1, mode="constant", cval=0.0)
    cross = ndimage.generate_binary_structure(2, 1)  # grow/shrink by one pixel up, down, left, right per step
    grow = ndimage.grey_dilation if thicken > 0 else ndimage.grey_erosion
    for _ in range(abs(int(thicken))):
        out = grow(out, footprint=cross, mode="constant", cval=0.0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
