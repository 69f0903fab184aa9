"""Cases for tensor arithmetic, reductions, shape changes and indexing."""
import numpy

import dlcore.functional as F
from tests.cases import Case, away_from_zero, normal


def _positive(*shape):
    return lambda rng: (rng.uniform(0.5, 2.0, shape),)


def _two(sa, sb):
    return lambda rng: (rng.standard_normal(sa), rng.standard_normal(sb))


CASES = [
    Case("add", lambda a, b: a + b, _two((3, 4), (3, 4))),
    Case("add_broadcast_row", lambda a, b: a + b, _two((3, 4), (4,))),
    Case("add_broadcast_col", lambda a, b: a + b, _two((3, 1), (1, 4))),
    Case("add_scalar", lambda a: 2.5 + a, lambda rng: (rng.standard_normal((2, 3)),)),
    Case("sub_broadcast", lambda a, b: a - b, _two((2, 3, 4), (3, 1))),
    Case("rsub_scalar", lambda a: 1.0 - a, lambda rng: (rng.standard_normal((5,)),)),
    Case("mul_broadcast", lambda a, b: a * b, _two((2, 3), (2, 1))),
    Case("div", lambda a, b: a / b, lambda rng: (rng.standard_normal((3, 4)), rng.uniform(0.5, 2.0, (3, 4)))),
    Case("div_broadcast", lambda a, b: a / b, lambda rng: (rng.standard_normal((3, 4)), rng.uniform(0.5, 2.0, (4,)))),
    Case("rdiv_scalar", lambda a: 2.0 / a, _positive(3, 2)),
    Case("pow_scalar", lambda a: a ** 3, normal(3, 4)),
    Case("pow_tensor", lambda a, b: a ** b, lambda rng: (rng.uniform(0.5, 2.0, (3, 2)), rng.standard_normal((3, 2)))),
    Case("neg", lambda a: -a, normal(4, 2)),
    Case("matmul", lambda a, b: a @ b, _two((3, 4), (4, 5))),
    Case("matmul_batched", lambda a, b: a @ b, _two((2, 3, 4), (4, 5))),
    Case("matmul_vector", lambda a, b: a @ b, _two((3, 4), (4,))),
    Case("sum_all", lambda a: a.sum(), normal(3, 4)),
    Case("sum_axis", lambda a: a.sum(axis=1), normal(2, 3, 4)),
    Case("sum_keepdims", lambda a: a.sum(axis=(0, 2), keepdims=True), normal(2, 3, 4)),
    Case("mean_all", lambda a: a.mean(), normal(3, 4)),
    Case("mean_axis", lambda a: a.mean(axis=-1), normal(2, 3, 4)),
    Case("max_axis", lambda a: a.max(axis=1), normal(3, 5)),
    Case("max_all_keepdims", lambda a: a.max(keepdims=True), normal(3, 5)),
    Case("reshape", lambda a: a.reshape(4, 6), normal(2, 3, 4)),
    Case("transpose", lambda a: a.transpose(2, 0, 1), normal(2, 3, 4)),
    Case("T", lambda a: a.T, normal(3, 5)),
    Case("exp", lambda a: a.exp(), normal(3, 4)),
    Case("log", lambda a: a.log(), _positive(3, 4)),
    Case("abs", lambda a: abs(a), lambda rng: (away_from_zero((3, 4))(rng),)),
    Case("getitem_slice", lambda a: a[1:, ::2], normal(4, 5)),
    Case("getitem_fancy_repeated", lambda a: a[numpy.array([0, 2, 0, 1])], normal(3, 4)),
    Case("getitem_pairs", lambda a: a[numpy.arange(3), numpy.array([1, 0, 3])], normal(3, 4)),
    # float32 inputs go up to float64 and back; float64 ones convert to themselves (gradcheck stays exact)
    Case("astype_round_trip", lambda a: (a.astype(numpy.float64) * 2.0).astype(a.dtype), normal(3, 4)),
    Case("concat", lambda a, b: F.concat([a, b], axis=1), _two((2, 3, 2), (2, 1, 2))),
    Case("chain_shared_input", lambda a: (a * a + a.exp()).sum(axis=0), normal(3, 4)),
]
