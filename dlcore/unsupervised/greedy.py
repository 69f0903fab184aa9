"""Greedy layer-wise pre-training: each layer of a stack learns from the codes of the layers below.

``pretrain_rbms`` trains RBMs by their own contrastive-divergence rule (``RBM.fit``);
``pretrain_autoencoders`` trains autoencoders with the Trainer on their reconstruction loss.
Both take the whole data set, put it on the stack's device once, and pass each trained layer's
codes up as the next layer's data (``DBN``, ``DBM`` and ``StackedAutoencoder`` call them).
"""
from __future__ import annotations

import backends
from dlcore import losses, optim
from dlcore.modes import no_grad
from dlcore.core import Tensor
from dlcore.data.loader import ArrayLoader
from dlcore.nn import Sigmoid
from dlcore.training.trainer import Trainer


def _array(x):
    return x.data if isinstance(x, Tensor) else x


def pretrain_rbms(rbms, x, epochs: int = 10, batch_size: int = 100, seed: int = 0,
                  on_epoch=None) -> list[list[float]]:
    """Greedy layer-wise training: RBM 1 on x, RBM l+1 on p(h|·) of RBM l (probabilities, whole
    data set on the device). Returns each RBM's per-epoch reconstruction errors;
    ``on_epoch(layer, epoch, error)`` (layers from 1), when given, is called after each epoch."""
    h = backends.to_device(_array(x), rbms[0].backend.name)
    history = []
    for i, rbm in enumerate(rbms):
        report = None if on_epoch is None else (lambda epoch, error, layer=i + 1: on_epoch(layer, epoch, error))
        history.append(rbm.fit(h, epochs, batch_size, seed, on_epoch=report))
        if i + 1 < len(rbms):
            h = rbm.p_h_given_v(h)
    return history


def pretrain_autoencoders(autoencoders, x, epochs: int = 10, batch_size: int = 64, lr: float = 1e-3,
                          optimizer="adam", seed: int = 0, loss: str = "bce", callbacks=()) -> list:
    """Greedy layer-wise training of ``autoencoders`` (each maps the previous one's codes); returns
    one ``History`` per layer.

    Layer k is trained with the Trainer as an autoencoder of its input h_{k−1} (h₀ = x,
    targets = the clean inputs; corruption, if any, inside the layer) for ``epochs`` epochs of
    shuffled mini-batches (seed ``seed + k``); then h_k = encode(h_{k−1}) is computed in eval
    mode without gradients. ``optimizer`` is a name in ``optim.OPTIMIZERS`` or a callable
    (module, lr) → Optimizer; ``loss`` is "bce" (needs sigmoid outputs) or "mse".
    """
    if loss not in ("bce", "mse"):
        raise ValueError(f"StackedAutoencoder.pretrain: loss must be 'bce' or 'mse', got {loss!r}")
    if isinstance(optimizer, str):
        optimizer = optim.get(optimizer)
    for k, ae in enumerate(autoencoders):
        if loss == "bce" and not isinstance(ae.output, Sigmoid):
            raise ValueError(f"layer {k} reconstructs with a {type(ae.output).__name__} output; "
                             f"binary cross-entropy needs sigmoid outputs in (0, 1): use loss='mse'")
    h = _array(x)
    histories = []
    for k, ae in enumerate(autoencoders):
        device = backends.backend_of(ae.encoder.weight.data).name
        loader = ArrayLoader(h, h, batch_size=batch_size, shuffle=True, seed=seed + k, backend=device)
        criterion = losses.BinaryCrossEntropy() if loss == "bce" else losses.MSELoss()
        trainer = Trainer(callbacks, progress=False)
        histories.append(trainer.fit(ae, criterion, optimizer(ae, lr=lr), loader, epochs=epochs))
        ae.eval()
        with no_grad():
            h = ae.encode(Tensor(loader.x)).data
        ae.train()
    return histories
