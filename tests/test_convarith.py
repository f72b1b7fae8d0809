"""The NumPy convolution and pooling against the course's numbers and against real Keras layers."""

import itertools

import numpy as np
import pytest

from mnistviz import convarith as ca


# --- the course's worked examples ----------------------------------------------------------------

def test_worked_edge_example_exactly():
    res = ca.conv2d(ca.EDGE_IMAGE, ca.HORIZONTAL_EDGE, stride=1, padding="valid")
    assert res.output.tolist() == [[0, 0, 0], [6000, 6000, 6000], [6000, 6000, 6000], [0, 0, 0]]
    np.testing.assert_array_equal(res.output, ca.EDGE_ANSWER)
    assert res.formulas() == ("⌊(6 + 2·0 − 3)/1⌋ + 1 = 4", "⌊(5 + 2·0 − 3)/1⌋ + 1 = 3")


def test_window_products_and_sum():
    res = ca.conv2d(ca.EDGE_IMAGE, ca.HORIZONTAL_EDGE)
    win = res.window(1, 2)
    assert (win.top, win.left) == (1, 2)
    np.testing.assert_array_equal(win.values, [[200] * 3, [200] * 3, [0] * 3])
    np.testing.assert_array_equal(win.products, [[2000] * 3, [0] * 3, [0] * 3])
    assert win.result == 6000
    assert ca.products_text(win).endswith("= 6000")
    assert ca.products_text(win).startswith("10·200 + ")


def test_letter_example_matches_the_course_formula():
    # f1·a + f2·b + f3·d + f4·e for the top-left cell, and so on
    img, f = ca.LETTER_IMAGE, np.array([[2.0, 3.0], [5.0, 7.0]])
    a, b, c, d, e, g, h, j, k = img.ravel()
    f1, f2, f3, f4 = f.ravel()
    expected = [[f1 * a + f2 * b + f3 * d + f4 * e, f1 * b + f2 * c + f3 * e + f4 * g],
                [f1 * d + f2 * e + f3 * h + f4 * j, f1 * e + f2 * g + f3 * j + f4 * k]]
    np.testing.assert_array_equal(ca.conv2d(img, f).output, expected)


def test_paddings_and_sizes():
    assert ca.axis_padding(6, 3, 1, "valid") == (0, 0)
    assert ca.axis_padding(6, 3, 1, "same") == (1, 1)  # the course's k // 2 for odd k, stride 1
    assert ca.axis_padding(6, 3, 1, "full") == (2, 2)  # k − 1
    assert ca.axis_padding(6, 3, 2, "same") == (0, 1)  # Keras: the odd one goes bottom/right
    assert ca.axis_padding(5, 4, 1, "same") == (1, 2)
    res = ca.conv2d(ca.EDGE_IMAGE, ca.HORIZONTAL_EDGE, padding="same")
    assert res.output.shape == (6, 5) and res.padded.shape == (8, 7)
    res = ca.conv2d(ca.EDGE_IMAGE, ca.HORIZONTAL_EDGE, padding="full")
    assert res.output.shape == (8, 7) and res.padded.shape == (10, 9)
    assert ca.size_formula(6, 3, 1, "full") == "⌊(6 + 2·2 − 3)/1⌋ + 1 = 8"
    assert ca.size_formula(6, 3, 2, "same") == "⌊(6 + 0 + 1 − 3)/2⌋ + 1 = 3"
    assert ca.conv2d(np.ones((7, 7)), np.ones((3, 3)), stride=2).output.shape == (3, 3)


def test_bad_input_messages():
    with pytest.raises(ca.ConvError, match="larger than the 2×2 padded input"):
        ca.conv2d(np.ones((2, 2)), np.ones((3, 3)))
    ca.conv2d(np.ones((2, 2)), np.ones((3, 3)), padding="full")  # fits once padded
    with pytest.raises(ca.ConvError, match="row 0, column 1 is 'x'"):
        ca.parse_grid([[1, "x"], [2, 3]])
    with pytest.raises(ca.ConvError, match="row 1, column 0 is empty"):
        ca.parse_grid([[1, 2], [None, 3]])
    np.testing.assert_array_equal(ca.parse_grid([["1", " −2.5 "]]), [[1, -2.5]])
    with pytest.raises(ca.ConvError, match="stride"):
        ca.conv2d(np.ones((4, 4)), np.ones((2, 2)), stride=0)


def test_against_scipy_correlate():
    from scipy.signal import correlate2d

    rng = np.random.default_rng(0)
    img, ker = rng.normal(size=(7, 6)), rng.normal(size=(3, 3))
    np.testing.assert_allclose(ca.conv2d(img, ker).output, correlate2d(img, ker, mode="valid"))
    np.testing.assert_allclose(ca.conv2d(img, ker, padding="full").output, correlate2d(img, ker, mode="full"))
    np.testing.assert_allclose(ca.conv2d(img, ker, padding="same").output, correlate2d(img, ker, mode="same"))


def test_presets_and_block_average():
    np.testing.assert_array_equal(ca.preset_kernel("horizontal edge", 3), ca.HORIZONTAL_EDGE)
    np.testing.assert_array_equal(ca.preset_kernel("vertical edge", 3), ca.HORIZONTAL_EDGE.T)
    np.testing.assert_array_equal(ca.preset_kernel("sharpen", 3), [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    img = np.random.default_rng(1).normal(size=(5, 5))
    np.testing.assert_allclose(ca.conv2d(img, ca.preset_kernel("identity", 3), padding="same").output, img)
    assert ca.preset_kernel("blur", 4).sum() == pytest.approx(1.0)
    d = np.arange(28 * 28, dtype=float).reshape(28, 28)
    assert ca.block_average(d, 2).shape == (14, 14)
    assert ca.block_average(d, 2)[0, 0] == (0 + 1 + 28 + 29) / 4


# --- pooling by hand ------------------------------------------------------------------------------

def test_max_pooling_pads_with_minus_infinity():
    right = ca.pool2d(ca.NEGATIVE_IMAGE, 2, 2, "same", "max")
    assert right.padded.shape == (4, 4) and np.isneginf(right.padded[3, :]).all()
    np.testing.assert_array_equal(right.output, [[-1, -4], [-2, -5]])
    wrong = ca.pool2d(ca.NEGATIVE_IMAGE, 2, 2, "same", "max", pad_value=0.0)
    np.testing.assert_array_equal(wrong.output, [[-1, 0], [0, 0]])  # zeros win every border window
    assert ca.pool_text(right.window(1, 1), "max") == "max(−5, −∞, −∞, −∞) = −5"


def test_average_pooling_leaves_padding_out():
    res = ca.pool2d(ca.NEGATIVE_IMAGE, 2, 2, "same", "average")
    np.testing.assert_allclose(res.output, [[-2.5, -6.5], [-4, -5]])
    assert ca.pool_text(res.window(0, 1), "average") == "(−4 + −9)/2 = −6.50"


# --- against real Keras layers --------------------------------------------------------------------

CASES = list(itertools.product(["valid", "same", "full"], [1, 2, 3], [(2, 2), (3, 3), (5, 5), (2, 3)]))


@pytest.mark.parametrize("padding,stride,kshape", CASES)
def test_conv_matches_keras_conv2d(padding, stride, kshape):
    rng = np.random.default_rng(CASES.index((padding, stride, kshape)))
    for shape in [(7, 6), (8, 9)]:
        img = rng.integers(-50, 50, size=shape).astype(float)
        ker = rng.integers(-5, 6, size=kshape).astype(float)
        bias = float(rng.integers(-3, 4))
        mine = ca.conv2d(img, ker, stride, padding, bias=bias).output
        theirs = ca.keras_conv2d(img, ker, stride, padding, bias=bias)
        assert mine.shape == theirs.shape
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-3)


def test_keras_full_is_manual_padding_then_valid():
    img = np.random.default_rng(3).normal(size=(5, 5))
    ker = np.random.default_rng(4).normal(size=(3, 3))
    manual = ca.keras_conv2d(np.pad(img, 2), ker, 1, "valid")
    np.testing.assert_allclose(ca.conv2d(img, ker, padding="full").output, manual, rtol=1e-5, atol=1e-5)


def test_worked_example_through_keras():
    np.testing.assert_array_equal(ca.keras_conv2d(ca.EDGE_IMAGE, ca.HORIZONTAL_EDGE), ca.EDGE_ANSWER)


@pytest.mark.parametrize("mode,padding,stride,pool", list(itertools.product(
    ["max", "average"], ["valid", "same"], [1, 2, 3], [2, 3])))
def test_pool_matches_keras(mode, padding, stride, pool):
    rng = np.random.default_rng(7)
    for shape in [(7, 7), (6, 8)]:
        img = rng.normal(size=shape) - 2.0  # mostly negative: padding with 0 would show
        mine = ca.pool2d(img, pool, stride, padding, mode).output
        theirs = ca.keras_pool2d(img, pool, stride, padding, mode)
        assert mine.shape == theirs.shape
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-5)


# --- parameters -----------------------------------------------------------------------------------

def test_parameter_table_against_keras():
    for ex in ca.COURSE_PARAM_EXAMPLES:
        c_in = ex.input_shape[-1]
        assert ca.conv_params(ex.kernel_size, c_in, ex.filters) == ex.expected
        assert ca.keras_param_count(ex.input_shape, ex.kernel_size, ex.filters) == ex.expected
    assert [e.expected for e in ca.COURSE_PARAM_EXAMPLES] == [10, 10, 26, 28, 56, 280]
    assert ca.params_formula(3, 3, 10) == "(3·3·3 + 1)·10 = 280"
