"""Noise2Void in a few readable steps: learn to denoise from noisy images alone.

Noise2Void (Krull, Buchholz & Jug 2019) rests on two facts about many
microscopy images:

1. the *signal* at a pixel can be guessed from the pixels around it, because
   structures are larger than a pixel;
2. the *noise* at a pixel cannot, because it is independent from pixel to
   pixel (shot noise and read noise are).

So train a network to predict each pixel's value **from its surroundings
only**. It cannot learn the noise (unpredictable), so the best it can do is
predict the signal: a denoised image. The trick that stops the network from
simply copying the input pixel is the **blind spot**: in every training patch
a few pixels are *masked*, i.e. replaced by the value of a random neighbour
or, as in N2V2 and the shipped model, by the median of their neighbours
(:func:`blind_spot_mask`), and the loss is computed **only at those pixels**,
comparing the prediction with the original noisy value (:func:`masked_mse`).
No clean image is ever needed.

This module is the book's teaching implementation, on the small U-Net of
:mod:`bioimaging_guide.unet`. For real projects use the maintained tool,
CAREamics (the successor of the ``n2v`` package), which implements Noise2Void
and its extensions (structured N2V for correlated noise, N2V2, PN2V).

The book's shipped model ``n2v-gigadb`` is trained, saved and loaded like
every shipped model (:mod:`bioimaging_guide.models`)::

    bioimaging-guide train n2v-gigadb --output models/
"""

from __future__ import annotations

import numpy as np
import torch

from .common import seed_everything
from .unet import UNet, predict_image, train

__all__ = [
    "augment_batch",
    "blind_spot_mask",
    "masked_mse",
    "predict",
    "train_n2v",
]


REPLACEMENTS = ("neighbour", "median")


def blind_spot_mask(
    batch: torch.Tensor,
    fraction: float = 0.01,
    radius: int = 2,
    generator: torch.Generator | None = None,
    replacement: str = "neighbour",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hide a few pixels of every image in ``batch`` behind a blind spot.

    The image is divided into boxes of about ``1/sqrt(fraction)`` pixels
    side; in each box one random pixel is chosen (so the masked pixels are
    spread evenly, about ``fraction`` of all pixels) and its value is
    replaced by that of a random *other* pixel within ``radius`` pixels
    (``replacement="neighbour"``, Noise2Void's original rule) or by the
    median of the window without the pixel itself (``"median"``, the
    sampling of N2V2, Höck et al. 2022: the replacement never copies one
    particular neighbour, which the original rule can teach the network to
    exploit, giving checkerboard artefacts).

    Parameters
    ----------
    batch
        Tensor of shape (N, 1, H, W).
    fraction
        Share of pixels to mask (Noise2Void's paper used a fraction of a
        percent; more masked pixels give more training signal per step).
    radius
        Neighbourhood from which replacement values are drawn (2: a 5×5 window).
    replacement
        ``"neighbour"`` or ``"median"`` (see above).

    Returns
    -------
    masked, mask
        The batch with replaced values, and a float tensor with 1 at the
        masked pixels and 0 elsewhere (same shape as ``batch``).
    """
    if batch.ndim != 4 or batch.shape[1] != 1:
        raise ValueError(f"expected a batch of shape (N, 1, H, W), got {tuple(batch.shape)}")
    if not 0 < fraction < 1:
        raise ValueError("fraction must be between 0 and 1")
    if replacement not in REPLACEMENTS:
        raise ValueError(f"replacement must be one of {REPLACEMENTS}, got {replacement!r}")
    if radius < 1:
        raise ValueError(f"radius must be at least 1 pixel, got {radius}")
    n, _, h, w = batch.shape
    box = max(int(round(1 / np.sqrt(fraction))), 1)
    ys = torch.arange(0, h, box)
    xs = torch.arange(0, w, box)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    gy, gx = gy.reshape(-1), gx.reshape(-1)
    k = gy.numel()
    # one random pixel in every box (boxes at the image border may be smaller)
    py = (gy + (torch.rand(n, k, generator=generator) * torch.clamp(h - gy, max=box)).long()).clamp(max=h - 1)
    px = (gx + (torch.rand(n, k, generator=generator) * torch.clamp(w - gx, max=box)).long()).clamp(max=w - 1)
    # a random offset within the window, never (0, 0)
    offsets = torch.tensor(
        [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1) if (dy, dx) != (0, 0)]
    )
    idx = torch.arange(n)[:, None].expand(n, k)
    masked = batch.clone()
    if replacement == "neighbour":
        choice = offsets[torch.randint(len(offsets), (n, k), generator=generator)]
        sy = (py + choice[..., 0]).clamp(0, h - 1)
        sx = (px + choice[..., 1]).clamp(0, w - 1)
        # at the border, clamping can land back on the pixel itself: mirror the offset instead
        same = (sy == py) & (sx == px)
        sy = torch.where(same, (py - choice[..., 0]).clamp(0, h - 1), sy)
        sx = torch.where(same, (px - choice[..., 1]).clamp(0, w - 1), sx)
        masked[idx, 0, py, px] = batch[idx, 0, sy, sx]
    else:
        # every window pixel but the centre; at the border, the image mirrored (without repeating the edge)
        if radius >= min(h, w):
            raise ValueError(f"radius {radius} needs images larger than {radius} pixels, got {h} × {w}")
        padded = torch.nn.functional.pad(batch, (radius,) * 4, mode="reflect")
        window = padded[
            idx[..., None], 0, py[..., None] + radius + offsets[:, 0], px[..., None] + radius + offsets[:, 1]
        ]
        masked[idx, 0, py, px] = window.median(dim=-1).values
    mask = torch.zeros_like(batch)
    mask[idx, 0, py, px] = 1.0
    return masked, mask


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the masked pixels only (``mask`` = 1); other pixels do not count."""
    total = mask.sum()
    if total == 0:
        raise ValueError("the mask is empty")
    return (mask * (prediction - target) ** 2).sum() / total


def augment_batch(batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random 90° rotations and flips of each image: they keep pixel-independent noise independent."""
    out = []
    for img in batch:
        k = int(torch.randint(4, (1,), generator=generator))
        img = torch.rot90(img, k, dims=(1, 2))
        if bool(torch.randint(2, (1,), generator=generator)):
            img = torch.flip(img, dims=(2,))
        out.append(img)
    return torch.stack(out)


def train_n2v(
    patches,
    val_patches=None,
    steps: int = 2000,
    batch_size: int = 16,
    learning_rate: float = 4e-4,
    fraction: float = 0.01,
    radius: int = 2,
    replacement: str = "neighbour",
    depth: int = 2,
    base_channels: int = 32,
    seed: int = 0,
    eval_every: int = 100,
    max_seconds: float | None = None,
    threads: int | None = 2,
    progress: bool = False,
):
    """Train Noise2Void on noisy patches; returns (model, history, seconds).

    Parameters
    ----------
    patches, val_patches
        Noisy, normalised training (and validation) patches, arrays (N, H, W).
    steps, batch_size, learning_rate
        Number of optimisation steps (Adam), patches per step, step size; the
        learning rate is halved at 50 % and 75 % of the steps.
    fraction, radius, replacement
        Blind-spot settings, see :func:`blind_spot_mask`.
    depth, base_channels
        Size of the :class:`~bioimaging_guide.unet.UNet`.
    eval_every
        Record the training loss (mean of the last steps) and the validation
        loss (fixed masks, so values are comparable) every this many steps.
    max_seconds
        Stop early after this much training time (the history says so).
    threads
        CPU threads for PyTorch (the book's timings use 2).
    progress
        Show a progress bar (for training from a terminal).

    Returns
    -------
    model, history, seconds
        ``history`` has lists ``step``, ``train_loss``, ``val_loss`` and the
        flag ``stopped_early``; the model returned holds the weights with the
        lowest validation loss. Training uses the book's one loop,
        :func:`bioimaging_guide.unet.train`, with a blind-spot batch and the
        masked loss.
    """
    seed_everything(seed, frameworks=("torch",), threads=threads, deterministic=True)
    gen = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(np.asarray(patches, np.float32))[:, None]
    model = UNet(1, 1, depth=depth, base_channels=base_channels)

    def next_batch():
        batch = augment_batch(x[torch.randint(len(x), (batch_size,), generator=gen)], gen)
        inputs, mask = blind_spot_mask(batch, fraction, radius, gen, replacement)
        return inputs, (batch, mask)

    validate = None
    if val_patches is not None:
        v = torch.as_tensor(np.asarray(val_patches, np.float32))[:, None]
        v_inputs, v_mask = blind_spot_mask(v, fraction, radius, torch.Generator().manual_seed(seed + 1), replacement)

        def validate(net):
            return masked_mse(net(v_inputs), v, v_mask)

    history = train(
        model,
        next_batch,
        lambda pred, target: masked_mse(pred, *target),
        steps,
        lr=learning_rate,
        milestones=(steps // 2, (3 * steps) // 4),
        validate=validate,
        eval_every=eval_every,
        max_seconds=max_seconds,
        progress=progress,
    )
    model.eval()
    return model, history.as_dict(), history.seconds


def predict(model: torch.nn.Module, image) -> np.ndarray:
    """Denoise one normalised 2D image with a trained Noise2Void network (no masking at prediction)."""
    return predict_image(model, np.asarray(image, np.float32))
