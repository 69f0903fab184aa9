"""Cases for batch normalization and dropout."""
from dlcore import init, nn
import dlcore.functional as F
from dlcore.ops.dropout import dropout2d
from tests.cases import Case, ModuleCase

# Batch statistics are reductions whose summation order differs between NumPy and CuPy, and
# the BN gradient subtracts nearly equal terms (g − mean g − x̂·mean(g x̂)).
REDUCE = dict(rtol=1e-4, atol=1e-4, why_looser="per-channel reductions summed in different orders on "
                                               "NumPy and CuPy; the BN gradient cancels nearly equal terms")


def _bn_inputs(shape):
    c = shape[1]
    return lambda rng: (rng.standard_normal(shape) * 2 + 1, rng.uniform(0.5, 1.5, c), rng.standard_normal(c))


def _bn_channels_last(x, g, b):
    """batch_norm of x (N, H, W, C) seen as an NCHW-indexed map with NHWC memory (as convolutions
    leave it): the long-row path of the portable bodies (16 channels: 16 pixels per row here)."""
    return F.batch_norm(x.transpose(0, 3, 1, 2), g, b, training=True)


def _bn_eval(x, g, b):
    """batch_norm in eval, with fixed running statistics made on x's device."""
    xp, c = x.xp, x.shape[1]
    mean = xp.linspace(-0.5, 0.5, c).astype(x.dtype)
    var = xp.linspace(0.5, 2.0, c).astype(x.dtype)
    return F.batch_norm(x, g, b, mean, var, training=False)


def _bn_eval_module(factory):
    def make():
        m = factory()
        m.running_mean = init.uniform((m.num_features,), -0.5, 0.5)
        m.running_var = init.uniform((m.num_features,), 0.5, 2.0)
        return m.eval()
    return make


CASES = [
    Case("batch_norm_1d", lambda x, g, b: F.batch_norm(x, g, b, training=True), _bn_inputs((6, 4)), **REDUCE),
    Case("batch_norm_1d_ncl", lambda x, g, b: F.batch_norm(x, g, b, training=True), _bn_inputs((3, 2, 4)), **REDUCE),
    Case("batch_norm_2d", lambda x, g, b: F.batch_norm(x, g, b, training=True), _bn_inputs((2, 3, 4, 5)), **REDUCE),
    Case("batch_norm_2d_eval", _bn_eval, _bn_inputs((2, 3, 4, 5)), **REDUCE),
    Case("batch_norm_2d_channels_last", _bn_channels_last,
         lambda rng: (rng.standard_normal((2, 4, 4, 16)) * 2 + 1, rng.uniform(0.5, 1.5, 16), rng.standard_normal(16)),
         **REDUCE),
    Case("dropout_mask", lambda x, m: F.dropout(x, 0.3, training=True, mask=m),
         lambda rng: (rng.standard_normal((4, 5)), rng.random((4, 5)) >= 0.3)),
]

MODULE_CASES = [
    ModuleCase("BatchNorm1d", lambda: nn.BatchNorm1d(4), (6, 4), rtol=REDUCE["rtol"], atol=REDUCE["atol"]),
    ModuleCase("BatchNorm2d", lambda: nn.BatchNorm2d(3), (2, 3, 4, 4), rtol=REDUCE["rtol"], atol=REDUCE["atol"]),
    ModuleCase("BatchNorm2d_eval", _bn_eval_module(lambda: nn.BatchNorm2d(3)), (2, 3, 4, 4),
               rtol=REDUCE["rtol"], atol=REDUCE["atol"]),
    ModuleCase("Dropout_eval", lambda: nn.Dropout(0.5).eval(), (3, 4)),
]

CASES += [
    Case("dropout2d_mask", lambda x, m: dropout2d(x, 0.3, training=True, mask=m),
         lambda rng: (rng.standard_normal((2, 4, 3, 3)), rng.random((2, 4, 1, 1)) >= 0.3)),
]

MODULE_CASES += [
    ModuleCase("BatchNorm2d_no_affine_no_stats", lambda: nn.BatchNorm2d(3, affine=False, track_running_stats=False),
               (2, 3, 4, 4), rtol=REDUCE["rtol"], atol=REDUCE["atol"]),
    ModuleCase("BatchNorm1d_eval_without_running_stats",
               lambda: nn.BatchNorm1d(4, track_running_stats=False).eval(), (6, 4),
               rtol=REDUCE["rtol"], atol=REDUCE["atol"]),
    ModuleCase("GroupNorm", lambda: nn.GroupNorm(2, 4), (3, 4, 3, 2), rtol=REDUCE["rtol"], atol=REDUCE["atol"]),
    ModuleCase("GroupNorm_instance_no_affine", lambda: nn.GroupNorm(3, 3, affine=False), (2, 3, 5),
               rtol=REDUCE["rtol"], atol=REDUCE["atol"]),
    ModuleCase("Dropout2d_eval", lambda: nn.Dropout2d(0.5).eval(), (2, 3, 4, 4)),
]
