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
    """y = x with axes ``start_dim`` … ``end_dim`` merged into one (PyTorch's Flatten); by default
    (N, everything else).

    Example::

        >>> x = dlcore.Tensor(np.zeros((2, 3, 4, 5), "float32"))
        >>> nn.Flatten()(x).shape    # 3·4·5 = 60
        (2, 60)
        >>> nn.Flatten(start_dim=2)(x).shape, nn.Flatten(0, 1)(x).shape
        ((2, 3, 20), (6, 4, 5))
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = checks.integer("Flatten", "start_dim", start_dim)
        self.end_dim = checks.integer("Flatten", "end_dim", end_dim)

    def forward(self, x):
        if (self.start_dim, self.end_dim) == (1, -1) and x.ndim >= 1:
            return x.reshape(x.shape[0], -1)
        start, end = (a + x.ndim if a < 0 else a for a in (self.start_dim, self.end_dim))
        if not 0 <= start <= end < x.ndim:
            raise checks.ShapeError(f"{self!r} cannot merge axes {self.start_dim} … {self.end_dim} of an input of "
                                    f"shape {tuple(x.shape)}")
        return x.reshape(*x.shape[:start], -1, *x.shape[end + 1:])

    def extra_repr(self) -> str:
        default = (self.start_dim, self.end_dim) == (1, -1)
        return "" if default else f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class ModuleList(Module):
    """A list of modules registered as children "0", "1", … (their parameters are the list's), with no
    forward of its own: PyTorch's ModuleList, for layers a custom forward loops over.

    Example::

        >>> blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
        >>> blocks.append(nn.Linear(2, 1))
        ModuleList(...)
        >>> len(blocks), [name for name, _ in blocks.named_parameters()][-2:]
        (4, ['3.weight', '3.bias'])
        >>> x = dlcore.Tensor(np.ones((5, 2), "float32"))
        >>> for block in blocks:
        ...     x = block(x)
        >>> x.shape
        (5, 1)
    """

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        name = str(len(self._modules))
        setattr(self, name, checks.instance("ModuleList", f"module {name}", module, Module, "a Module"))
        return self

    def extend(self, modules) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index):
        modules = list(self._modules.values())
        return ModuleList(modules[index]) if isinstance(index, slice) else modules[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    """Modules by name, registered as children under those names (their parameters are
    ``name.weight``, …), with no forward of its own: PyTorch's ModuleDict. Names are identifiers
    without dots.

    Example::

        >>> heads = nn.ModuleDict({"class": nn.Linear(4, 3), "box": nn.Linear(4, 2)})
        >>> heads["box"].out_features, list(heads), "class" in heads
        (2, ['class', 'box'], True)
        >>> sorted(name for name, _ in heads.named_parameters())
        ['box.bias', 'box.weight', 'class.bias', 'class.weight']
    """

    def __init__(self, modules=None):
        super().__init__()
        for name, module in dict(modules or {}).items():
            self[name] = module

    def __setitem__(self, name: str, module: Module) -> None:
        # nor an attribute of the instance that is not one of its modules ("training", "_modules", …)
        if not isinstance(name, str) or not name.isidentifier() or name in vars(Module) or \
                name in vars(ModuleDict) or (name in vars(self) and name not in self._modules):
            raise checks.ArgumentValueError(f"ModuleDict: a name must be an identifier that no Module attribute "
                                            f"has, got {name!r}")
        setattr(self, name, checks.instance("ModuleDict", f"module {name!r}", module, Module, "a Module"))

    def __getitem__(self, name: str) -> Module:
        return self._modules[name]

    def __contains__(self, name) -> bool:
        return name in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()


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
