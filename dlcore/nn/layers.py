"""Dense layers and containers."""
from __future__ import annotations

from dlcore import checks, init
from dlcore.ops.embedding import embedding
from dlcore.ops.linear import linear
from dlcore.nn.module import Module, Parameter, check_input_type


class Linear(Module):
    """y = x @ W + b with W of shape (in_features, out_features) and b of shape (out_features,).

    The sizes are ints ≥ 1 (NumPy integers too); ``weight_init`` is an initialiser name from
    ``dlcore.init`` or a callable; biases start at 0.

    Example::

        >>> layer = nn.Linear(3, 2)
        >>> layer.weight.shape, layer.bias.shape    # W is (in_features, out_features)
        ((3, 2), (2,))
        >>> x = dlcore.Tensor(np.ones((4, 3), "float32"))
        >>> y = layer(x)
        >>> y.shape
        (4, 2)
        >>> np.allclose(y.numpy(), x.numpy() @ layer.weight.numpy() + layer.bias.numpy())
        True
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, weight_init="xavier"):
        super().__init__()
        self.in_features = checks.integer("Linear", "in_features", in_features, minimum=1)
        self.out_features = checks.integer("Linear", "out_features", out_features, minimum=1)
        shape = (self.in_features, self.out_features)
        initializer = init.get(weight_init, owner="Linear")
        self.weight = Parameter(initializer(shape, fan_in=self.in_features, fan_out=self.out_features))
        self.bias = Parameter(init.zeros((self.out_features,))) if checks.flag("Linear", "bias", bias) else None

    def forward(self, x):
        check_input_type(self, x, self.weight)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise checks.ShapeError(f"{self!r} expects inputs whose last axis has {self.in_features} features, "
                                    f"got an input of shape {tuple(x.shape)}")
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Sequential(Module):
    """y = fₙ(…f₂(f₁(x))): the given modules applied in order, named "0", "1", …

    Example::

        >>> model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
        >>> len(model), model[1]
        (3, ReLU())
        >>> [name for name, p in model.named_parameters()]
        ['0.weight', '0.bias', '2.weight', '2.bias']
        >>> model(dlcore.Tensor(np.ones((5, 2), "float32"))).shape
        (5, 1)
    """

    def __init__(self, *layers: Module):
        super().__init__()
        for layer in layers:
            self.append(layer)

    def append(self, layer: Module) -> Sequential:
        name = str(len(self._modules))
        setattr(self, name, checks.instance("Sequential", f"layer {name}", layer, Module, "a Module"))
        return self

    def __getitem__(self, index):
        layers = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*layers[index])
        return layers[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, x):
        for layer in self._modules.values():
            x = layer(x)
        return x


class Flatten(Module):
    """y = x reshaped to (N, everything else).

    Example::

        >>> x = dlcore.Tensor(np.zeros((2, 3, 4, 5), "float32"))
        >>> nn.Flatten()(x).shape    # 3·4·5 = 60
        (2, 60)
    """

    def forward(self, x):
        return x.reshape(x.shape[0], -1)


class Embedding(Module):
    """A lookup table: y = W[idx], row idx of ``weight`` W (num_embeddings, embedding_dim) for every
    integer index (characters, tokens), giving idx.shape + (embedding_dim,). W starts N(0, 1), as
    in PyTorch; its gradient accumulates g over every position an index appears at.

    >>> import numpy, dlcore
    >>> emb = dlcore.nn.Embedding(10, 3)
    >>> emb(numpy.array([[1, 2], [1, 9]])).shape
    (2, 2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int):
        super().__init__()
        self.num_embeddings = checks.integer("Embedding", "num_embeddings", num_embeddings, minimum=1)
        self.embedding_dim = checks.integer("Embedding", "embedding_dim", embedding_dim, minimum=1)
        self.weight = Parameter(init.normal((self.num_embeddings, self.embedding_dim)))

    def forward(self, idx):
        return embedding(idx, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
