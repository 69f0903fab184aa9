"""Data augmentation for image batches, on the device the batch lives on."""
from __future__ import annotations

import backends


class FlipShift:
    """Random horizontal flips and translations of an (N, C, H, W) batch, one draw per image.

    out[n, c, h, w] = x_pad[n, c, h + dy_n, w' + dx_n] with w' = W − 1 − w when image n is
    flipped (probability ½ if ``flip``) else w, where x_pad is x zero-padded by ``shift``
    pixels on every side and dy_n, dx_n are uniform in {0, …, 2·shift}: the image moves by up
    to ``shift`` pixels each way. One gather on the device; the random numbers come from the
    backend's generator (seeded by ``dlcore.manual_seed``), so no host transfer per batch.

    Example::

        >>> images = np.tile(np.arange(4, dtype="float32"), (8, 1, 1, 1))    # 8 images (1, 1, 4) of 0 1 2 3
        >>> out = data.FlipShift(flip=True)(images)
        >>> sorted({tuple(row) for row in out[:, 0, 0].tolist()})             # each image kept or mirrored
        [(0.0, 1.0, 2.0, 3.0), (3.0, 2.0, 1.0, 0.0)]
        >>> data.FlipShift(flip=False, shift=2)(images).shape                 # shifted, same size
        (8, 1, 1, 4)
    """

    def __init__(self, flip: bool = True, shift: int = 0):
        if shift < 0:
            raise ValueError(f"FlipShift: shift must be ≥ 0 pixels, got {shift}")
        self.flip, self.shift = bool(flip), int(shift)

    def __repr__(self) -> str:
        return f"FlipShift(flip={self.flip}, shift={self.shift})"

    def __call__(self, x):
        if x.ndim != 4:
            raise ValueError(f"FlipShift needs image batches (N, C, H, W), got shape {tuple(x.shape)}")
        backend = backends.backend_of(x)
        xp, (n, c, h, w), s = backend.xp, x.shape, self.shift
        draws = backend.random((3, n), "float32")
        dy = (draws[0] * (2 * s + 1)).astype(xp.int32)[:, None]
        dx = (draws[1] * (2 * s + 1)).astype(xp.int32)[:, None]
        cols = xp.arange(w, dtype=xp.int32)[None, :]
        if self.flip:
            cols = xp.where(draws[2][:, None] < 0.5, w - 1 - cols, cols)
        rows = dy + xp.arange(h, dtype=xp.int32)[None, :]
        cols = dx + cols
        padded = xp.pad(x, ((0, 0), (0, 0), (s, s), (s, s))) if s else x
        images = xp.arange(n)[:, None, None, None]
        channels = xp.arange(c)[None, :, None, None]
        return padded[images, channels, rows[:, None, :, None], cols[:, None, None, :]]
