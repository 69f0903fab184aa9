"""Generated data sets and the array loader."""
import numpy
import pytest

from dlcore.data import ArrayLoader, sine, spiral, xor


def test_xor_truth_table_without_noise():
    x, y = xor(4, noise=0.0)
    numpy.testing.assert_array_equal(x, [[0, 0], [0, 1], [1, 0], [1, 1]])
    numpy.testing.assert_array_equal(y, [0, 1, 1, 0])
    assert x.dtype == numpy.float32 and y.dtype == numpy.int64


def test_spiral_is_two_balanced_interleaved_arms():
    x, y = spiral(400, noise=0.0)
    assert x.shape == (400, 2) and numpy.bincount(y).tolist() == [200, 200]
    # without noise, each point is r·(cos θ, sin θ) with θ = 2π·1.75·r + kπ for its arm k ...
    radius = numpy.hypot(x[:, 0], x[:, 1]).astype(numpy.float64)
    assert radius.max() < 1.0
    theta = 2 * numpy.pi * 1.75 * radius + numpy.pi * y
    numpy.testing.assert_allclose(x, radius[:, None] * numpy.stack([numpy.cos(theta), numpy.sin(theta)], 1), atol=1e-5)
    # ... so arm 1 is arm 0 rotated by π: point for point (by radius), the negated other arm
    arms = [x[y == k][numpy.argsort(radius[y == k])] for k in (0, 1)]
    numpy.testing.assert_allclose(arms[1], -arms[0], atol=1e-6)
    x2, y2 = spiral(400, noise=0.0)
    numpy.testing.assert_array_equal(x, x2)


def test_sine_targets():
    x, y = sine(500, noise=0.0)
    numpy.testing.assert_allclose(y, numpy.sin(2 * numpy.pi * x), atol=1e-6)


def test_loader_draws_each_sample_once_per_epoch():
    x = numpy.arange(10, dtype=numpy.float32)[:, None]
    y = numpy.arange(10)
    loader = ArrayLoader(x, y, batch_size=3, seed=1)
    assert len(loader) == 4
    for _ in range(2):
        seen = numpy.concatenate([yb for _, yb in loader])
        assert sorted(seen.tolist()) == list(range(10))
    epoch1 = [yb.tolist() for _, yb in ArrayLoader(x, y, 3, seed=1)]
    epoch1_again = [yb.tolist() for _, yb in ArrayLoader(x, y, 3, seed=1)]
    assert epoch1 == epoch1_again
    for xb, yb in loader:
        numpy.testing.assert_array_equal(xb[:, 0], yb)


def test_loader_drop_last_and_no_shuffle():
    x = numpy.arange(10, dtype=numpy.float32)[:, None]
    loader = ArrayLoader(x, numpy.arange(10), batch_size=4, shuffle=False, drop_last=True)
    assert [yb.tolist() for _, yb in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_loader_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="x has 3 samples but y has 2"):
        ArrayLoader(numpy.zeros((3, 1)), numpy.zeros(2))


def test_loader_batch_size_must_be_a_whole_number():
    x, y = numpy.zeros((5, 1)), numpy.zeros(5)
    with pytest.raises(TypeError, match=r"ArrayLoader: batch_size must be an int ≥ 1, got '32' \(str\)"):
        ArrayLoader(x, y, batch_size="32")
    with pytest.raises(TypeError, match=r"ArrayLoader: batch_size must be an int ≥ 1, got 2.5 \(float\)"):
        ArrayLoader(x, y, batch_size=2.5)
    with pytest.raises(ValueError, match="ArrayLoader: batch_size must be an int ≥ 1, got 0"):
        ArrayLoader(x, y, batch_size=0)
    assert ArrayLoader(x, y, batch_size=numpy.int64(2)).batch_size == 2


def test_loader_takes_lists_and_rejects_non_arrays():
    loader = ArrayLoader([[0.0], [1.0], [2.0]], [0, 1, 2], batch_size=2, shuffle=False)
    batches = [(xb.tolist(), yb.tolist()) for xb, yb in loader]
    assert batches == [([[0.0], [1.0]], [0, 1]), ([[2.0]], [2])]
    with pytest.raises(TypeError, match=r"ArrayLoader: x must be an array with one row per sample .* got float"):
        ArrayLoader(3.0, [1])
    with pytest.raises(ValueError, match="ArrayLoader: x is a list that does not make a rectangular array"):
        ArrayLoader([[1.0], [2.0, 3.0]], [0, 1])


@pytest.mark.parametrize("make, message", [
    (lambda: xor(-3), r"xor: n \(the number of samples\) must be an int ≥ 1, got -3"),
    (lambda: spiral(1), r"spiral: n \(the number of samples\) must be an int ≥ 2, got 1"),
    (lambda: sine(0), r"sine: n \(the number of samples\) must be an int ≥ 1, got 0"),
    (lambda: spiral(10, noise=-0.1), r"spiral: noise \(a standard deviation\) must be a finite number ≥ 0, got -0.1"),
])
def test_generators_check_their_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_generators_want_a_whole_number_of_samples():
    with pytest.raises(TypeError, match=r"xor: n \(the number of samples\) must be an int ≥ 1, got 2.5 \(float\)"):
        xor(2.5)
