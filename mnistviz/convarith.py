"""Convolution and pooling by hand: plain NumPy, small enough to read every number.

One channel, one filter, a grid ``(H, W)``. Convolution here is what Keras' ``Conv2D`` computes:
a cross-correlation (the kernel slides over the input unflipped, products are summed, the bias is
added). Paddings, as the course defines them:

- ``valid``: no padding, the output is smaller than the input;
- ``same``:  zeros around the input so that, with stride 1, the output has the input's size.
             We pad exactly as Keras does: ``total = max((⌈n/s⌉ − 1)·s + k − n, 0)`` per axis,
             ``⌊total/2⌋`` before and the rest after (so an even kernel or a stride > 1 can pad
             one more on the bottom/right). For an odd kernel and stride 1 that is the course's
             ``k // 2`` all around;
- ``full``:  ``k − 1`` zeros all around; every pixel meets every kernel position (Keras has no
             such option: pad by hand, then ``valid``).

Output size per axis: ``⌊(n + p_before + p_after − k)/s⌋ + 1``, i.e. ``⌊(n + 2p − k)/s⌋ + 1``
when the padding is symmetric.

Pooling pads max pooling with −∞ (smaller than every number, so a padded cell never wins) and
leaves padded cells out of an average (as Keras does). TensorFlow/Keras is imported only inside
the ``keras_*`` helpers, which run the same numbers through real layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

PADDINGS = ("valid", "same", "full")
POOL_PADDINGS = ("valid", "same")
POOL_MODES = ("max", "average")


class ConvError(ValueError):
    """Input the arithmetic cannot use, with a message fit to show a person."""


# --- the course's examples -----------------------------------------------------------------------

#: The course's 6×5 image with a horizontal edge: three rows of 200 over three rows of 0.
EDGE_IMAGE = np.array([[200.0] * 5] * 3 + [[0.0] * 5] * 3)
#: The course's horizontal edge detector.
HORIZONTAL_EDGE = np.array([[10.0, 10.0, 10.0], [0.0, 0.0, 0.0], [-10.0, -10.0, -10.0]])
#: The worked answer: the edge lights up in the two middle rows.
EDGE_ANSWER = np.array([[0.0, 0.0, 0.0], [6000.0, 6000.0, 6000.0], [6000.0, 6000.0, 6000.0], [0.0, 0.0, 0.0]])
#: The course's 3×3 image ``a b c / d e g / h j k``, with numbers for the letters.
LETTER_IMAGE = np.arange(1.0, 10.0).reshape(3, 3)
LETTERS = (("a", "b", "c"), ("d", "e", "g"), ("h", "j", "k"))
#: The course's 2×2 filter ``f1 f2 / f3 f4``, with numbers.
LETTER_KERNEL = np.array([[1.0, 0.0], [0.0, -1.0]])


def preset_kernel(name: str, size: int = 3) -> np.ndarray:
    """A named ``(size, size)`` kernel: ``horizontal edge``, ``vertical edge``, ``blur``, ``sharpen``, ``identity``.

    The edge detectors follow the course's 10 / 0 / −10 pattern (top row +10, bottom row −10);
    ``blur`` averages the window; ``identity`` copies the centre pixel; ``sharpen`` is the centre
    pixel plus the difference to its four neighbours. For an even size the "centre" is the cell just
    above and left of the middle.
    """
    if not 2 <= size <= 5:
        raise ConvError(f"kernel size must be 2 to 5, got {size}")
    c = (size - 1) // 2
    k = np.zeros((size, size))
    if name == "horizontal edge":
        k[0, :], k[-1, :] = 10.0, -10.0
    elif name == "vertical edge":
        k[:, 0], k[:, -1] = 10.0, -10.0
    elif name == "blur":
        k[:] = 1.0 / (size * size)
    elif name == "identity":
        k[c, c] = 1.0
    elif name == "sharpen":
        neighbours = [(c + dr, c + dc) for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
                      if 0 <= c + dr < size and 0 <= c + dc < size]
        for r, q in neighbours:
            k[r, q] = -1.0
        k[c, c] = 1.0 + len(neighbours)
    else:
        raise ConvError(f"unknown kernel {name!r}")
    return k


PRESET_KERNELS = ("horizontal edge", "vertical edge", "blur", "sharpen", "identity")


def block_average(image: np.ndarray, factor: int = 2) -> np.ndarray:
    """A digit ``(28, 28)`` → ``(28/factor, 28/factor)`` by averaging ``factor×factor`` blocks (values kept 0-255)."""
    img = np.asarray(image, dtype=np.float64)
    h, w = img.shape
    if h % factor or w % factor:
        raise ConvError(f"a {h}×{w} image does not split into {factor}×{factor} blocks")
    return img.reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def parse_grid(cells: Sequence[Sequence[object]] | np.ndarray, what: str = "input") -> np.ndarray:
    """Rows of cells (numbers, numeric strings, None) → a float ``(H, W)`` array, or ``ConvError`` naming the bad cell."""
    arr = np.asarray(cells, dtype=object)
    if arr.ndim != 2 or arr.size == 0:
        raise ConvError(f"the {what} must be a non-empty 2-D grid")
    out = np.zeros(arr.shape)
    for (r, c), v in np.ndenumerate(arr):
        try:
            x = float(v.strip().replace("−", "-")) if isinstance(v, str) else float(v)
        except (TypeError, ValueError):
            x = math.nan
        if not math.isfinite(x):
            blank = v is None or (isinstance(v, float) and math.isnan(v)) or str(v).strip() == ""
            raise ConvError(f"the {what} cell at row {r}, column {c} is {'empty' if blank else repr(v)}: "
                            "every cell needs a number")
        out[r, c] = x
    return out


# --- padding and output size ---------------------------------------------------------------------

def axis_padding(n: int, k: int, stride: int, padding: str) -> tuple[int, int]:
    """Zeros added before and after one axis of length ``n`` for a window ``k`` and a stride (Keras' rule for ``same``)."""
    if padding == "valid":
        return 0, 0
    if padding == "full":
        return k - 1, k - 1
    if padding == "same":
        total = max((math.ceil(n / stride) - 1) * stride + k - n, 0)
        return total // 2, total - total // 2
    raise ConvError(f"padding must be one of {', '.join(PADDINGS)}, got {padding!r}")


def output_size(n: int, k: int, stride: int, pad_before: int, pad_after: int) -> int:
    """``⌊(n + p_before + p_after − k)/s⌋ + 1`` (0 when the window does not fit)."""
    span = n + pad_before + pad_after - k
    return span // stride + 1 if span >= 0 else 0


def size_formula(n: int, k: int, stride: int, padding: str) -> str:
    """The output-size formula filled in, e.g. ``⌊(6 + 2·0 − 3)/1⌋ + 1 = 4``."""
    b, a = axis_padding(n, k, stride, padding)
    pad = f"2·{b}" if a == b else f"{b} + {a}"
    return f"⌊({n} + {pad} − {k})/{stride}⌋ + 1 = {output_size(n, k, stride, b, a)}"


def pad(image: np.ndarray, pads: tuple[int, int, int, int], value: float = 0.0) -> np.ndarray:
    """``(H, W)`` → ``(top + H + bottom, left + W + right)``, new cells set to ``value``."""
    top, bottom, left, right = pads
    return np.pad(np.asarray(image, dtype=np.float64), ((top, bottom), (left, right)), constant_values=value)


def _check(image: np.ndarray, k: tuple[int, int], stride: int) -> np.ndarray:
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2 or min(img.shape) < 1:
        raise ConvError(f"the input must be a 2-D grid, got shape {img.shape}")
    if not np.all(np.isfinite(img)):
        raise ConvError("every input cell needs a number")
    if int(stride) != stride or stride < 1:
        raise ConvError(f"the stride must be a whole number ≥ 1, got {stride}")
    if min(k) < 1:
        raise ConvError(f"the window must be at least 1×1, got {k[0]}×{k[1]}")
    return img


# --- convolution ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Window:
    """One output cell: where the window sits on the padded input, what it covers, the products and their sum."""

    row: int  # output cell
    col: int
    top: int  # window's top-left corner in padded coordinates
    left: int
    values: np.ndarray  # (kh, kw) padded input under the window
    kernel: np.ndarray  # (kh, kw) for convolution; None for pooling
    products: np.ndarray | None
    bias: float
    result: float

    @property
    def rows(self) -> range:
        return range(self.top, self.top + self.values.shape[0])

    @property
    def cols(self) -> range:
        return range(self.left, self.left + self.values.shape[1])


@dataclass(frozen=True)
class ConvResult:
    """A convolution of one ``(H, W)`` grid with one ``(kh, kw)`` kernel, every intermediate kept."""

    image: np.ndarray  # (H, W) as given
    kernel: np.ndarray  # (kh, kw)
    stride: int
    padding: str
    pads: tuple[int, int, int, int]  # top, bottom, left, right
    padded: np.ndarray  # (H + top + bottom, W + left + right)
    output: np.ndarray  # (H_out, W_out)
    bias: float = 0.0

    def window(self, row: int, col: int) -> Window:
        """The window behind output cell ``(row, col)``, its element-wise products and their sum."""
        kh, kw = self.kernel.shape
        top, left = row * self.stride, col * self.stride
        vals = self.padded[top:top + kh, left:left + kw]
        prods = vals * self.kernel
        return Window(row, col, top, left, vals, self.kernel, prods, self.bias, float(prods.sum() + self.bias))

    def formulas(self) -> tuple[str, str]:
        """The output-size formula filled in for the rows and for the columns."""
        (h, w), (kh, kw) = self.image.shape, self.kernel.shape
        return size_formula(h, kh, self.stride, self.padding), size_formula(w, kw, self.stride, self.padding)


def conv2d(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: str = "valid",
           bias: float = 0.0) -> ConvResult:
    """Slide ``kernel`` over ``image`` (cross-correlation, as ``keras.layers.Conv2D``), ``stride`` both ways.

    Raises ``ConvError`` when the kernel is larger than the padded input.
    """
    ker = np.asarray(kernel, dtype=np.float64)
    if ker.ndim != 2 or not np.all(np.isfinite(ker)):
        raise ConvError("the kernel must be a 2-D grid of numbers")
    img = _check(image, ker.shape, stride)
    stride = int(stride)
    (h, w), (kh, kw) = img.shape, ker.shape
    top, bottom = axis_padding(h, kh, stride, padding)
    left, right = axis_padding(w, kw, stride, padding)
    padded = pad(img, (top, bottom, left, right))
    ph, pw = padded.shape
    if kh > ph or kw > pw:
        raise ConvError(f"the {kh}×{kw} kernel is larger than the {ph}×{pw} padded input "
                        f"({h}×{w} with '{padding}' padding): there is no position where it fits. "
                        "Use a smaller kernel, a bigger input or more padding.")
    oh, ow = output_size(h, kh, stride, top, bottom), output_size(w, kw, stride, left, right)
    out = np.empty((oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[i, j] = np.sum(padded[i * stride:i * stride + kh, j * stride:j * stride + kw] * ker) + bias
    return ConvResult(img, ker, stride, padding, (top, bottom, left, right), padded, out, float(bias))


def fmt(v: float) -> str:
    """A number as a person writes it: ``6000``, ``-10``, ``127.3``, ``0.11``, ``−∞``."""
    v = float(v)
    if math.isnan(v):
        return "·"
    if math.isinf(v):
        return "−∞" if v < 0 else "∞"
    if abs(v - round(v)) < 1e-9:
        text = str(int(round(v)))
    else:
        text = f"{v:.1f}" if abs(v) >= 100 else f"{v:.2f}"
    return text.replace("-", "−")


def products_text(win: Window) -> str:
    """The sum written out: ``10·200 + 10·200 + … + (−10)·0 = 6000``."""
    terms = []
    for w, x in zip(win.kernel.ravel(), win.values.ravel()):
        ws = f"({fmt(w)})" if w < 0 else fmt(w)
        xs = f"({fmt(x)})" if x < 0 else fmt(x)
        terms.append(f"{ws}·{xs}")
    text = " + ".join(terms)
    if win.bias:
        text += f" + {fmt(win.bias)} (bias)"
    return f"{text} = {fmt(win.result)}"


# --- pooling -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PoolResult:
    """Max or average pooling of one ``(H, W)`` grid, every intermediate kept."""

    image: np.ndarray
    pool_size: int
    stride: int
    padding: str
    mode: str
    pad_value: float  # −∞ for max, NaN (= left out of the average) for average, or what was asked
    pads: tuple[int, int, int, int]
    padded: np.ndarray
    output: np.ndarray

    def window(self, row: int, col: int) -> Window:
        """The window behind output cell ``(row, col)`` and what it reduces to."""
        top, left = row * self.stride, col * self.stride
        vals = self.padded[top:top + self.pool_size, left:left + self.pool_size]
        return Window(row, col, top, left, vals, None, None, 0.0, float(self.output[row, col]))

    def windows(self) -> list[Window]:
        return [self.window(i, j) for i in range(self.output.shape[0]) for j in range(self.output.shape[1])]

    def argmax(self) -> np.ndarray:
        """``(H_out, W_out, 2)``: the (row, col) in the unpadded input where each window's maximum sits."""
        top, _, left, _ = self.pads
        out = np.empty((*self.output.shape, 2), np.int64)
        for i in range(self.output.shape[0]):
            for j in range(self.output.shape[1]):
                vals = self.window(i, j).values
                r, c = np.unravel_index(int(np.nanargmax(vals)), vals.shape)
                out[i, j] = (i * self.stride + r - top, j * self.stride + c - left)
        return out

    def formulas(self) -> tuple[str, str]:
        h, w = self.image.shape
        return (size_formula(h, self.pool_size, self.stride, self.padding),
                size_formula(w, self.pool_size, self.stride, self.padding))


def pool2d(image: np.ndarray, pool_size: int = 2, stride: int | None = None, padding: str = "valid",
           mode: str = "max", pad_value: float | None = None) -> PoolResult:
    """Max or average pooling, ``pool_size×pool_size`` windows moved by ``stride`` (default: the pool size, as Keras).

    Padding as Keras: max pooling pads with −∞ so a padded cell never wins; average pooling leaves
    padded cells out of the count. ``pad_value`` overrides the pad (e.g. 0 to show what goes wrong).
    """
    if mode not in POOL_MODES:
        raise ConvError(f"pooling must be one of {', '.join(POOL_MODES)}, got {mode!r}")
    if padding not in POOL_PADDINGS:
        raise ConvError(f"pooling padding must be one of {', '.join(POOL_PADDINGS)}, got {padding!r}")
    stride = int(stride or pool_size)
    img = _check(image, (pool_size, pool_size), stride)
    if pad_value is None:
        pad_value = -math.inf if mode == "max" else math.nan
    (h, w), k = img.shape, int(pool_size)
    top, bottom = axis_padding(h, k, stride, padding)
    left, right = axis_padding(w, k, stride, padding)
    padded = pad(img, (top, bottom, left, right), pad_value)
    ph, pw = padded.shape
    if k > ph or k > pw:
        raise ConvError(f"the {k}×{k} pooling window is larger than the {ph}×{pw} (padded) input")
    oh, ow = output_size(h, k, stride, top, bottom), output_size(w, k, stride, left, right)
    out = np.empty((oh, ow))
    reduce = np.max if mode == "max" else np.nanmean
    for i in range(oh):
        for j in range(ow):
            out[i, j] = reduce(padded[i * stride:i * stride + k, j * stride:j * stride + k])
    return PoolResult(img, k, stride, padding, mode, float(pad_value), (top, bottom, left, right), padded, out)


def pool_text(win: Window, mode: str) -> str:
    """The reduction written out: ``max(3, −∞, 1, 0) = 3`` or ``(3 + 1 + 0)/3 = 1.33``."""
    vals = win.values.ravel()
    if mode == "max":
        return f"max({', '.join(fmt(v) for v in vals)}) = {fmt(win.result)}"
    kept = [v for v in vals if not math.isnan(v)]
    return f"({' + '.join(fmt(v) for v in kept)})/{len(kept)} = {fmt(win.result)}"


#: A grid where padding max pooling with 0 instead of −∞ gives the wrong answer: every value is
#: negative and 'same' padding with a 2×2 pool, stride 2, adds a row and a column of padding.
NEGATIVE_IMAGE = np.array([[-3.0, -1.0, -4.0], [-1.0, -5.0, -9.0], [-2.0, -6.0, -5.0]])


# --- parameters ----------------------------------------------------------------------------------

def conv_params(kernel_size: int, in_channels: int, filters: int) -> int:
    """Weights and biases of a ``Conv2D``: ``(k·k·c_in + 1)·filters`` (the input's height and width do not count)."""
    return (kernel_size * kernel_size * in_channels + 1) * filters


def params_formula(kernel_size: int, in_channels: int, filters: int) -> str:
    """``(3·3·1 + 1)·1 = 10``."""
    k = kernel_size
    return f"({k}·{k}·{in_channels} + 1)·{filters} = {conv_params(k, in_channels, filters):,}"


@dataclass(frozen=True)
class ParamExample:
    """One of the course's parameter-count examples: a Conv2D on an input, and the count the course states."""

    description: str
    input_shape: tuple[int, int, int]  # (H, W, C)
    kernel_size: int
    filters: int
    expected: int


COURSE_PARAM_EXAMPLES: tuple[ParamExample, ...] = (
    ParamExample("one 3×3 filter on a 28×28 grey image", (28, 28, 1), 3, 1, 10),
    ParamExample("the same filter on a 1000×1000 grey image", (1000, 1000, 1), 3, 1, 10),
    ParamExample("one 5×5 filter on a 28×28 grey image", (28, 28, 1), 5, 1, 26),
    ParamExample("one 3×3 filter on a 28×28 RGB image", (28, 28, 3), 3, 1, 28),
    ParamExample("two 3×3 filters on a 28×28 RGB image", (28, 28, 3), 3, 2, 56),
    ParamExample("ten 3×3 filters on a 28×28 RGB image", (28, 28, 3), 3, 10, 280),
)


# --- the same through real Keras layers (imports TensorFlow) -------------------------------------

def _batch(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, dtype=np.float32)[None, :, :, None]  # (1, H, W, 1)


def keras_conv2d(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: str = "valid",
                 bias: float = 0.0) -> np.ndarray:
    """The same convolution through a real ``keras.layers.Conv2D(1, (kh, kw))`` with these weights → ``(H_out, W_out)``.

    ``full`` is not a Keras padding: the input is zero-padded by ``k − 1`` by hand, then ``valid``.
    """
    import keras

    ker = np.asarray(kernel, dtype=np.float32)
    x = _batch(image)
    if padding == "full":
        kh, kw = ker.shape
        x = np.pad(x, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1), (0, 0)))
        padding = "valid"
    layer = keras.layers.Conv2D(1, ker.shape, strides=int(stride), padding=padding, use_bias=True)
    layer.build(x.shape)
    layer.set_weights([ker[:, :, None, None], np.array([bias], np.float32)])  # (kh, kw, c_in, filters), (filters,)
    return np.asarray(layer(x))[0, :, :, 0]


def keras_pool2d(image: np.ndarray, pool_size: int = 2, stride: int | None = None, padding: str = "valid",
                 mode: str = "max") -> np.ndarray:
    """The same pooling through a real ``keras.layers.MaxPooling2D`` / ``AveragePooling2D`` → ``(H_out, W_out)``."""
    import keras

    cls = keras.layers.MaxPooling2D if mode == "max" else keras.layers.AveragePooling2D
    layer = cls(pool_size=int(pool_size), strides=int(stride or pool_size), padding=padding)
    return np.asarray(layer(_batch(image)))[0, :, :, 0]


def keras_param_count(input_shape: tuple[int, int, int], kernel_size: int, filters: int) -> int:
    """Build ``keras.Input(input_shape)`` → ``Conv2D(filters, (k, k))`` and ask Keras for ``count_params()``."""
    import keras

    inputs = keras.Input(shape=tuple(input_shape))
    outputs = keras.layers.Conv2D(filters, (kernel_size, kernel_size), activation="relu")(inputs)
    return int(keras.Model(inputs, outputs).count_params())
