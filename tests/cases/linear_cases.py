"""Cases for the dense layer."""
from dlcore import models, nn
import dlcore.functional as F
from tests.cases import Case, ModuleCase

CASES = [
    Case("linear", F.linear, lambda rng: (rng.standard_normal((5, 4)), rng.standard_normal((4, 3)),
                                          rng.standard_normal((3,)))),
    Case("linear_no_bias", F.linear, lambda rng: (rng.standard_normal((5, 4)), rng.standard_normal((4, 3)))),
    Case("linear_3d_input", F.linear, lambda rng: (rng.standard_normal((2, 5, 4)), rng.standard_normal((4, 3)),
                                                   rng.standard_normal((3,)))),
]

MODULE_CASES = [
    ModuleCase("Linear", lambda: nn.Linear(4, 3), (5, 4)),
    ModuleCase("Linear_he_no_bias", lambda: nn.Linear(6, 2, bias=False, weight_init="he"), (3, 6)),
    ModuleCase("MLP", lambda: nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3), nn.Softmax()), (5, 4)),
    # BatchNorm's per-feature reductions run in another order on CuPy: 1e-4, as for the CNN models
    ModuleCase("models.MLP_batch_norm", lambda: models.MLP([4, 6, 3], activation="tanh", batch_norm=True), (5, 4),
               rtol=1e-4, atol=1e-4),
]
