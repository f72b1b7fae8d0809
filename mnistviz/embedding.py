"""A map of what a network has learned: test digits placed on 2-D maps at three depths.

The three depths (``DEPTHS``):

- ``pixels``: the raw 784 pixels;
- ``conv``:   the last conv/pooling stage, flattened (``pool2`` in the default model: 7·7·64 = 3,136
              values); a model without convolutions (an MLP) uses its first hidden dense layer here;
- ``dense``:  the last hidden dense layer (1,024 values in the default model).

At each depth the digits' activations are reduced to 2-D by PCA (NumPy's SVD), fitted once per model;
projecting a new drawing is then one forward pass and a matrix product per depth. The lesson the maps
teach is measured by a k-nearest-neighbour accuracy in each full space (leave-one-out among the test
digits): classes that overlap in pixel space separate layer by layer.

"Not a digit": softmax always picks one of ten. A drawing whose nearest test digit is farther away than
almost every test digit's own nearest neighbour (leave-one-out) is unlike any digit the model learned
(``Embedding.looks_like_a_digit``). Two distances are checked, each against its 99.5 % quantile, so
together they flag about 1 % of real test digits: the cosine distance in the dense space (the shape the
network sees: an X, a letter, a scribble) and the Euclidean distance in pixel space (the ink itself:
preprocessing blows a single dot up into a filled 20×20 disc, which the dense layer reads as a fat 0,
but no digit carries that much ink).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from . import activations
from .data import model_input

DEPTHS = ("pixels", "conv", "dense")
K_NEIGHBOURS = 5
NOVELTY_QUANTILE = 0.995  # per check (dense cosine, pixel Euclidean): together ~1 % of test digits
POWER_ITERATIONS = 8
BATCH = 256  # images per forward pass when embedding the test digits (keeps conv1's maps ~25 MB)


# --- PCA --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PCA:
    """A linear map to 2-D: ``(x - mean) @ components``. ``components`` is ``(D, 2)``."""

    mean: np.ndarray  # (D,)
    components: np.ndarray  # (D, 2), orthonormal columns
    explained: np.ndarray  # (2,) share of the variance each axis explains

    def project(self, x: np.ndarray) -> np.ndarray:
        """Points ``(N, D)`` → map coordinates ``(N, 2)``."""
        return (np.asarray(x, np.float32) - self.mean) @ self.components


def fit_pca(x: np.ndarray, n_components: int = 2, seed: int = 0) -> PCA:
    """PCA of the rows of ``x`` ``(N, D)``: NumPy's SVD of ``x`` squeezed onto its leading directions.

    A full ``np.linalg.svd`` of 2,000 × 3,136 activations takes 20-100 s on two busy cores; the top two
    axes need only a randomized range finder with power iterations (Halko, Martinsson & Tropp 2011)
    and an SVD of a small ``(n_components + 10, D)`` matrix: well under a second, the same axes to
    float precision. Each axis' sign is fixed (its largest loading is positive), so the same data always
    gives the same picture."""
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=0)
    xc = x - mean
    width = min(n_components + 10, *xc.shape)
    q = xc @ np.random.default_rng(seed).standard_normal((xc.shape[1], width))
    for _ in range(POWER_ITERATIONS):  # sharpen the range onto the leading singular vectors
        q, _ = np.linalg.qr(q)
        q = xc @ (xc.T @ q)
    q, _ = np.linalg.qr(q)
    _, s, vt = np.linalg.svd(q.T @ xc, full_matrices=False)
    comps = vt[:n_components].T
    signs = np.sign(comps[np.abs(comps).argmax(axis=0), np.arange(n_components)])
    comps = comps * np.where(signs == 0, 1.0, signs)
    total = float((xc * xc).sum())
    explained = s[:n_components] ** 2 / total if total > 0 else np.zeros(n_components)
    return PCA(mean.astype(np.float32), comps.astype(np.float32), explained)


# --- nearest neighbours -----------------------------------------------------------------------------

def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances ``(len(a), len(b))`` between rows (one matrix product, clipped at 0)."""
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.maximum(d2, 0.0))


def cosine_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``1 - cos(angle)`` between rows ``(len(a), len(b))``; an all-zero row is at distance 1 from everything."""
    def unit(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, np.float32)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    return 1.0 - unit(a) @ unit(b).T


def _leave_one_out_distances(x: np.ndarray, metric=pairwise_distances) -> np.ndarray:
    """Distances between the rows of ``x``, each row's distance to itself set to infinity."""
    d = metric(x, x)
    np.fill_diagonal(d, np.inf)
    return d


def knn_accuracy(distances: np.ndarray, labels: np.ndarray, k: int = K_NEIGHBOURS) -> float:
    """Share of points whose ``k`` nearest neighbours (by ``distances``, ``(N, N)`` with ∞ on the
    diagonal for leave-one-out) vote for their own label (ties go to the nearest)."""
    labels = np.asarray(labels).astype(np.int64)
    nearest = np.argsort(distances, axis=1)[:, :k]
    votes = np.zeros((len(labels), int(labels.max()) + 1))
    for rank in range(k):  # earlier neighbours add a little more, so a tie goes to the nearest
        np.add.at(votes, (np.arange(len(labels)), labels[nearest[:, rank]]), 1.0 + 1e-3 * (k - rank))
    return float(np.mean(votes.argmax(axis=1) == labels))


# --- which layers -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DepthLayer:
    """Which layer's output stands for a depth in a given model."""

    depth: str  # "pixels", "conv" or "dense"
    layer: str | None  # the layer's name; None for the pixels
    title: str  # e.g. "pool2 (flattened, 3,136 values)"
    note: str = ""  # when a stand-in is used (an MLP has no conv stage)


def _block_end(layers: list, i: int) -> int:
    """The index of the layer that ends the block started at ``i``: a batch norm and the activation moved
    after it belong to the Dense/Conv2D before them."""
    import keras

    L = keras.layers
    while i + 1 < len(layers) and isinstance(layers[i + 1], (L.BatchNormalization, L.Activation)):
        i += 1
    return i


def depth_layers(model) -> list[DepthLayer]:
    """The three depths of ``model`` (a chain of Keras layers), found by ``isinstance``."""
    import keras

    L = keras.layers
    layers = [layer for layer in model.layers if not isinstance(layer, L.InputLayer)]
    dense_at = [i for i, layer in enumerate(layers) if isinstance(layer, L.Dense)]
    hidden = dense_at[:-1]

    def size(i: int) -> int:
        return int(np.prod(layers[i].output.shape[1:]))

    out = [DepthLayer("pixels", None, "raw pixels (784 values)")]
    flatten_at = [i for i, layer in enumerate(layers) if isinstance(layer, L.Flatten)]
    conv_at = [i for i, layer in enumerate(layers)
               if isinstance(layer, (L.Conv2D, L.MaxPooling2D, L.AveragePooling2D))
               and (not flatten_at or i < flatten_at[0])]
    if conv_at:
        j = _block_end(layers, conv_at[-1])
        out.append(DepthLayer("conv", layers[j].name, f"{layers[j].name} (flattened, {size(j):,} values)"))
    elif hidden:
        j = _block_end(layers, hidden[0])
        out.append(DepthLayer("conv", layers[j].name, f"{layers[j].name} ({size(j):,} values)",
                              "this model has no convolution: its first hidden dense layer stands in"))
    else:
        out.append(DepthLayer("conv", layers[dense_at[-1]].name, f"{layers[dense_at[-1]].name} (10 logits)",
                              "this model has neither convolution nor hidden layer: its logits stand in"))
    if hidden:
        j = _block_end(layers, hidden[-1])
        out.append(DepthLayer("dense", layers[j].name, f"{layers[j].name} ({size(j):,} values)",
                              "the same layer as the middle map: this model has one hidden layer"
                              if out[1].layer == layers[j].name else ""))
    else:
        out.append(DepthLayer("dense", layers[dense_at[-1]].name, f"{layers[dense_at[-1]].name} (10 logits)",
                              "this model has no hidden dense layer: its logits stand in"))
    return out


def features(model, x: np.ndarray, which: list[DepthLayer] | None = None) -> dict[str, np.ndarray]:
    """Each depth's activations for images ``x`` (``(N, 28, 28)`` or ``(N, 784)``), flattened to
    float32 ``(N, D)``, through ``activations.stages`` in batches of ``BATCH``."""
    which = which or depth_layers(model)
    xb = model_input(np.asarray(x))
    parts: dict[str, list[np.ndarray]] = {d.depth: [] for d in which}
    for start in range(0, len(xb), BATCH):
        chunk = xb[start:start + BATCH]
        by_name = {s.name: s.array for s in activations.stages(model, chunk)}
        for d in which:
            a = chunk if d.layer is None else by_name[d.layer]
            parts[d.depth].append(np.asarray(a, np.float32).reshape(len(chunk), -1))
    return {k: np.concatenate(v) for k, v in parts.items()}


# --- the fitted maps --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Space:
    """One depth's map: the digits' activations, their PCA and how well neighbours agree there."""

    layer: DepthLayer
    features: np.ndarray  # (N, D) float32
    pca: PCA
    coords: np.ndarray  # (N, 2) the digits' places on the map
    knn_accuracy: float  # leave-one-out k-NN accuracy in the full D-dimensional space
    map_knn_accuracy: float  # the same on the 2-D map


@dataclass(frozen=True)
class DigitCheck:
    """How far a drawing lies from the digits the model knows. A ratio is the drawing's nearest-neighbour
    distance divided by the 99.5 % quantile of the test digits' own (leave-one-out); above 1 is farther
    than almost every real digit."""

    dense_ratio: float  # cosine distance in the dense space: is it shaped like a digit the network knows?
    pixel_ratio: float  # Euclidean distance in pixel space: does its ink look like any digit's?
    nearest: int  # index of the nearest test digit in the dense space

    @property
    def is_digit(self) -> bool:
        return self.dense_ratio <= 1.0 and self.pixel_ratio <= 1.0

    @property
    def reason(self) -> str:
        """One sentence for a person; empty when it looks like a digit."""
        if self.dense_ratio > 1.0:
            return (f"Its dense-layer pattern is {self.dense_ratio:.1f}× farther from every digit the model knows "
                    "than almost any real digit is from its nearest neighbour.")
        if self.pixel_ratio > 1.0:
            return (f"Its ink is {self.pixel_ratio:.1f}× farther from every real digit's than almost any real digit "
                    "is from its nearest neighbour.")
        return ""


@dataclass(frozen=True)
class Embedding:
    """The maps of one model over a set of test digits."""

    spaces: dict[str, Space]  # keyed by DEPTHS
    labels: np.ndarray  # (N,) true digits
    predictions: np.ndarray  # (N,) the model's digits
    nn_dense: np.ndarray  # (N,) each digit's cosine distance to its nearest other digit, dense space
    nn_pixels: np.ndarray  # (N,) the same, Euclidean, in pixel space
    fit_seconds: float
    # (dense cosine, pixel Euclidean) nearest-neighbour distances that 99.5 % of test digits stay below
    thresholds: tuple[float, float] = (0.0, 0.0)
    dense_unit: np.ndarray | None = None  # (N, D) the dense features scaled to length 1 (for ``check``)
    pixel_sq: np.ndarray | None = None  # (N,) squared lengths of the pixel features (for ``check``)

    def false_alarm_rate(self) -> float:
        """Share of the test digits themselves that the not-a-digit check flags (leave-one-out)."""
        dense, pixels = self.thresholds
        return float(np.mean((self.nn_dense > dense) | (self.nn_pixels > pixels)))

    def project(self, model, image: np.ndarray) -> dict[str, np.ndarray]:
        """One image ``(28, 28)`` → its place ``(2,)`` on each map (one forward pass)."""
        return self.project_features(self.features_of(model, image))

    def features_of(self, model, image: np.ndarray) -> dict[str, np.ndarray]:
        """One image ``(28, 28)`` → its activations ``(D,)`` at each depth (one forward pass)."""
        feats = features(model, np.asarray(image, np.float32).reshape(1, -1), [s.layer for s in self.spaces.values()])
        return {k: v[0] for k, v in feats.items()}

    def project_features(self, feats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``features_of``'s activations → places ``(2,)`` on each map (a matrix product per depth)."""
        return {k: self.spaces[k].pca.project(v.reshape(1, -1))[0] for k, v in feats.items()}

    def check(self, feats: dict[str, np.ndarray]) -> DigitCheck:
        """``DigitCheck`` for one point's activations (``features_of``'s output)."""
        d = np.asarray(feats["dense"], np.float32).ravel()
        dense = 1.0 - self.dense_unit @ (d / max(float(np.linalg.norm(d)), 1e-12))
        x = np.asarray(feats["pixels"], np.float32).ravel()
        pixels = np.sqrt(np.maximum(self.pixel_sq + x @ x - 2.0 * (self.spaces["pixels"].features @ x), 0.0))
        t_dense, t_pixels = self.thresholds
        return DigitCheck(float(dense.min() / t_dense), float(pixels.min() / t_pixels), int(dense.argmin()))

    def features_from_stages(self, image: np.ndarray, stages: list) -> dict[str, np.ndarray]:
        """``features_of`` from a forward pass already made (``activations.stages`` of ``image``)."""
        by_name = {s.name: s.array for s in stages}
        return {depth: np.asarray(np.asarray(image, np.float32) if space.layer.layer is None
                                  else by_name[space.layer.layer], np.float32).ravel()
                for depth, space in self.spaces.items()}

    def looks_like_a_digit(self, model, image: np.ndarray) -> DigitCheck:
        """Whether a drawing ``(28, 28)`` in [0, 1] lies among the digits the model learned (``DigitCheck``)."""
        return self.check(self.features_of(model, image))


def fit(model, images: np.ndarray, labels: np.ndarray, k: int = K_NEIGHBOURS) -> Embedding:
    """Embed ``images`` (``(N, 28, 28)`` uint8 or float in [0, 1]; the 2,000 test digits) at every depth:
    PCA per depth, leave-one-out k-NN accuracies and the not-a-digit check's reference distances."""
    t0 = time.perf_counter()
    which = depth_layers(model)
    feats = features(model, images, which)
    predictions = activations.probabilities(model, images).argmax(axis=1)
    return from_features(which, feats, labels, predictions, k, t0)


def from_features(which: list[DepthLayer], feats: dict[str, np.ndarray], labels: np.ndarray,
                  predictions: np.ndarray, k: int = K_NEIGHBOURS, started: float | None = None) -> Embedding:
    """``fit``'s work after the forward passes: ``feats`` maps each depth to ``(N, D)`` activations."""
    t0 = time.perf_counter() if started is None else started
    labels = np.asarray(labels).astype(np.int64)
    spaces: dict[str, Space] = {}
    for d in which:
        x = feats[d.depth]
        pca = fit_pca(x)
        coords = pca.project(x)
        spaces[d.depth] = Space(d, x, pca, coords, knn_accuracy(_leave_one_out_distances(x), labels, k),
                                knn_accuracy(_leave_one_out_distances(coords), labels, k))
    nn_dense = _leave_one_out_distances(feats["dense"], cosine_distances).min(axis=1)
    nn_pixels = _leave_one_out_distances(feats["pixels"]).min(axis=1)
    dense = feats["dense"]
    unit = dense / np.maximum(np.linalg.norm(dense, axis=1, keepdims=True), 1e-12)
    thresholds = (float(np.quantile(nn_dense, NOVELTY_QUANTILE)), float(np.quantile(nn_pixels, NOVELTY_QUANTILE)))
    return Embedding(spaces, labels, np.asarray(predictions), nn_dense, nn_pixels, time.perf_counter() - t0,
                     thresholds, unit.astype(np.float32), (feats["pixels"] ** 2).sum(axis=1))


def looks_like_a_digit(embedding: Embedding, model, image: np.ndarray) -> DigitCheck:
    """``embedding.looks_like_a_digit(model, image)``, for the Draw page: ``is_digit`` False means the
    drawing is farther from every test digit than almost every test digit is from its nearest neighbour
    (``DigitCheck.reason`` says where), so the model's confident-looking answer is a forced choice among ten."""
    return embedding.looks_like_a_digit(model, image)


class Maps:
    """Fitted ``Embedding``s shared by every session of a process, keyed by a model's content key and
    fitted on a background thread of their own, so that nobody's stroke waits for a fit (several
    seconds). At most ``max_models`` are kept; the least recently used goes first."""

    def __init__(self, max_models: int = 8):
        from collections import OrderedDict
        from concurrent.futures import ThreadPoolExecutor

        self.max_models = max_models
        self._fits: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        # The name starts with activations' worker prefix: its forward passes run on this thread.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mnistviz-maps")

    def get(self, key: str, model, images: np.ndarray, labels: np.ndarray, wait: bool = True) -> Embedding | None:
        """The fit of ``model`` (content key ``key``) on ``images``; with ``wait=False``, ``None`` until it is
        ready (the fit starts in the background). A fit that failed raises its error."""
        with self._lock:
            future = self._fits.get(key)
            if future is None:
                future = self._fits[key] = self._worker.submit(fit, model, images, labels)
                while len(self._fits) > self.max_models:
                    self._fits.popitem(last=False)
            else:
                self._fits.move_to_end(key)
        if not wait and not future.done():
            return None
        return future.result()
