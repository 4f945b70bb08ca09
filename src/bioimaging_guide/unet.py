"""A small, readable U-Net in PyTorch, built from pieces you can name.

The U-Net (Ronneberger, Fischer & Brox 2015) is the network behind most
microscopy tools for segmentation and restoration. It has two halves:

* the **encoder** (left side of the "U") repeats *convolution block, then
  pooling*: each block looks at small neighbourhoods, each pooling step halves
  the image size so that the next block sees a wider area with the same small
  filters;
* the **decoder** (right side) repeats *up-sampling, then convolution block*,
  growing the image back to full size;
* **skip connections** hand the encoder's full-resolution feature maps across
  to the decoder at the same scale, so that fine detail lost by pooling can be
  recovered.

The pieces are kept separate (:class:`ConvBlock`, :class:`Down`, :class:`Up`)
so that a notebook can print the network and a reader can match every line to
this description. The same class serves segmentation (one output channel of
logits, to be turned into probabilities with a sigmoid) and restoration (one
output channel of intensities) and is reused by the self-supervised denoising
chapter.

Helpers: :func:`count_parameters` (how many numbers training adjusts),
:meth:`UNet.receptive_field` (how far an output pixel can "see") and
:func:`empirical_receptive_field` (the same, measured with gradients),
:func:`random_crops` and :func:`train` (the book's one training loop for its
PyTorch networks, with optional validation and learning-rate schedules) and
:func:`predict_image` (apply a trained network to a whole 2D image). Seed a
run with :func:`bioimaging_guide.common.seed_everything`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm  # a bar in the terminal; importing tqdm.auto would warn in every notebook

__all__ = [
    "ConvBlock",
    "Down",
    "Up",
    "UNet",
    "count_parameters",
    "empirical_receptive_field",
    "predict_image",
    "History",
    "random_crops",
    "train",
]


class ConvBlock(nn.Sequential):
    """Two 3×3 convolutions, each followed by (optional) batch normalisation and ReLU.

    A 3×3 convolution slides a small learned filter over the image; stacking
    two of them lets each output pixel combine information from a 5×5
    neighbourhood. ``padding=1`` keeps the image size unchanged.
    """

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = True):
        layers: list[nn.Module] = []
        for c_in in (in_channels, out_channels):
            layers.append(nn.Conv2d(c_in, out_channels, kernel_size=3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class Down(nn.Sequential):
    """Encoder step: 2×2 max pooling (halves height and width), then a :class:`ConvBlock`."""

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = True):
        super().__init__(nn.MaxPool2d(2), ConvBlock(in_channels, out_channels, batch_norm))


class Up(nn.Module):
    """Decoder step: bilinear 2× up-sampling, concatenation with the skip connection, :class:`ConvBlock`.

    ``in_channels`` is the number of channels coming up from below,
    ``skip_channels`` the number arriving through the skip connection.
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, batch_norm: bool = True):
        super().__init__()
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.conv = ConvBlock(in_channels + skip_channels, out_channels, batch_norm)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.upsample(x)
        return self.conv(torch.cat([skip, x], dim=1))


class UNet(nn.Module):
    """A U-Net for 2D images of any size.

    Parameters
    ----------
    in_channels
        Channels of the input image (1 for a grey fluorescence image).
    out_channels
        Channels of the output (1 for a foreground map or a restored image).
    depth
        Number of pooling steps. Each step halves the image and doubles the
        number of feature channels; deeper networks see wider context.
    base_channels
        Number of feature channels (filters) at full resolution.
    final_activation
        ``None`` (default) returns raw outputs: logits for segmentation (use
        a loss that applies the sigmoid itself, see :mod:`bioimaging_guide.losses`)
        or intensities for restoration. ``"sigmoid"`` squashes the output into
        [0, 1]; a ``torch.nn.Module`` is applied as is.
    batch_norm
        Use batch normalisation after each convolution (default True).

    Notes
    -----
    Inputs whose height or width is not a multiple of ``2**depth`` are padded
    by reflection before the encoder and cropped back afterwards, so the output
    always has the input's height and width.

    Examples
    --------
    >>> net = UNet(depth=2, base_channels=16)
    >>> net(torch.zeros(1, 1, 37, 50)).shape
    torch.Size([1, 1, 37, 50])
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        depth: int = 2,
        base_channels: int = 16,
        final_activation: str | nn.Module | None = None,
        batch_norm: bool = True,
    ):
        super().__init__()
        if depth < 0:
            raise ValueError(f"depth must be 0 or more, got {depth}")
        if base_channels < 1 or in_channels < 1 or out_channels < 1:
            raise ValueError("in_channels, out_channels and base_channels must be positive")
        self.depth = depth
        widths = [base_channels * 2**level for level in range(depth + 1)]
        self.inc = ConvBlock(in_channels, widths[0], batch_norm)
        self.downs = nn.ModuleList(Down(widths[i], widths[i + 1], batch_norm) for i in range(depth))
        self.ups = nn.ModuleList(Up(widths[i + 1], widths[i], widths[i], batch_norm) for i in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], out_channels, kernel_size=1)
        if final_activation is None:
            self.final_activation: nn.Module = nn.Identity()
        elif final_activation == "sigmoid":
            self.final_activation = nn.Sigmoid()
        elif isinstance(final_activation, nn.Module):
            self.final_activation = final_activation
        else:
            raise ValueError(f"final_activation must be None, 'sigmoid' or a torch.nn.Module, got {final_activation!r}")

    def _pad(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        h, w = x.shape[-2:]
        m = 2**self.depth
        ph, pw = (-h) % m, (-w) % m
        if ph == 0 and pw == 0:
            return x, (h, w)
        mode = "reflect" if (h > ph and w > pw) else "replicate"
        return F.pad(x, (0, pw, 0, ph), mode=mode), (h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map a batch of shape (N, in_channels, H, W) to (N, out_channels, H, W)."""
        if x.ndim != 4:
            raise ValueError(f"expected a batch of shape (N, C, H, W), got {tuple(x.shape)}")
        x, (h, w) = self._pad(x)
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for up in self.ups:
            y = up(y, skips.pop())
        return self.final_activation(self.head(y))[..., :h, :w]

    def receptive_field(self) -> int:
        """Theoretical receptive field: the width, in input pixels, of the square an output pixel depends on.

        Counted along the deepest path: every 3×3 convolution widens the field
        by 2 pixels *at the current scale*, each 2×2 pooling by 1 pixel at the
        current scale (and doubles the scale), and each bilinear up-sampling
        by 1 pixel at the coarser scale. The *effective* receptive field,
        where the output actually depends noticeably on the input, is smaller.
        """
        field, step = 1, 1
        field += 2 * 2 * step  # input block
        for _ in range(self.depth):
            field += step  # 2x2 max pooling
            step *= 2
            field += 2 * 2 * step  # conv block
        for _ in range(self.depth):
            field += step  # bilinear up-sampling mixes two neighbouring coarse pixels
            step //= 2
            field += 2 * 2 * step  # conv block
        return field


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of learnable numbers (weights and biases) in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def empirical_receptive_field(model: nn.Module, size: int = 129, in_channels: int = 1) -> int:
    """Measure the receptive field with gradients.

    Feeds a random image of ``size``×``size`` pixels, takes the gradient of the
    centre output pixel with respect to every input pixel, and returns the
    width of the square of input pixels with a non-zero gradient. The model is
    put in evaluation mode (and restored afterwards).
    """
    was_training = model.training
    model.eval()
    try:
        x = torch.randn(1, in_channels, size, size, dtype=torch.float64, requires_grad=True)
        model_64 = model.double()
        y = model_64(x)
        c = size // 2
        y[0, 0, c, c].backward()
        g = x.grad.abs().sum(dim=(0, 1)) > 0
        rows = torch.nonzero(g.any(dim=1)).flatten()
        cols = torch.nonzero(g.any(dim=0)).flatten()
        if len(rows) == 0:
            raise ValueError(
                "the centre output does not depend on the input for this random image "
                "(all units inactive); try another seed or more channels"
            )
        return int(max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1))
    finally:
        model.float()
        model.train(was_training)


@torch.no_grad()
def predict_image(model: nn.Module, image: np.ndarray) -> np.ndarray:
    """Apply ``model`` to one 2D image (H, W) or (C, H, W); returns a float32 array (out_channels squeezed).

    The model is used in evaluation mode (batch normalisation uses its running
    statistics) and its previous mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        x = torch.as_tensor(np.asarray(image, dtype=np.float32))
        x = x[None, None] if x.ndim == 2 else x[None]
        out = model(x)[0].numpy()
    finally:
        model.train(was_training)
    return out[0] if out.shape[0] == 1 else out


def random_crops(inputs, targets, size: int, n: int, rng: np.random.Generator, augment: bool = True):
    """Cut ``n`` random ``size``×``size`` crops from pairs of 2D images.

    Parameters
    ----------
    inputs, targets
        Sequences of 2D arrays; ``inputs[i]`` and ``targets[i]`` have the
        same shape (at least ``size`` in both directions).
    size, n
        Crop size and number of crops.
    rng
        NumPy random generator (seeded by the caller).
    augment
        Randomly flip and rotate each crop by multiples of 90 degrees (the
        same way for input and target).

    Returns
    -------
    (x, y) : torch.Tensor, each of shape (n, 1, size, size), float32
    """
    xs, ys = [], []
    for _ in range(n):
        i = int(rng.integers(len(inputs)))
        h, w = inputs[i].shape
        if h < size or w < size:
            raise ValueError(f"image {i} ({h}x{w}) is smaller than the crop size {size}")
        r, c = int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1))
        x = np.asarray(inputs[i][r : r + size, c : c + size], dtype=np.float32)
        y = np.asarray(targets[i][r : r + size, c : c + size], dtype=np.float32)
        if augment:
            k = int(rng.integers(4))
            x, y = np.rot90(x, k), np.rot90(y, k)
            if rng.random() < 0.5:
                x, y = x[:, ::-1], y[:, ::-1]
        xs.append(np.ascontiguousarray(x))
        ys.append(np.ascontiguousarray(y))
    return torch.from_numpy(np.stack(xs)[:, None]), torch.from_numpy(np.stack(ys)[:, None])


class History(list):
    """What :func:`train` returns: the loss of every step (it *is* that list), plus the evaluation record.

    Attributes
    ----------
    step, train_loss, val_loss
        Every ``eval_every`` steps (and at the last step): the step number,
        the mean training loss since the previous record, and the validation
        loss (empty if no ``validate`` function was given).
    stopped_early
        True if training stopped at ``max_seconds`` before ``steps``.
    seconds
        Wall time of the training loop.
    """

    def __init__(self):
        super().__init__()
        self.step: list[int] = []
        self.train_loss: list[float] = []
        self.val_loss: list[float] = []
        self.stopped_early = False
        self.seconds = 0.0

    def as_dict(self) -> dict:
        """The evaluation record as plain lists (for JSON files)."""
        return {
            "step": self.step,
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "stopped_early": self.stopped_early,
        }


def train(
    model: nn.Module,
    next_batch,
    loss_fn,
    steps: int,
    lr: float = 1e-3,
    decay: bool = False,
    milestones: Sequence[int] = (),
    validate=None,
    eval_every: int = 100,
    max_seconds: float | None = None,
    progress: bool = False,
) -> History:
    """Train ``model`` with the Adam optimiser: the book's one training loop for its PyTorch networks.

    Parameters
    ----------
    model
        Any PyTorch model. It is left in training mode, unless ``validate`` is
        given: then it holds the weights with the lowest validation loss and is
        left in evaluation mode.
    next_batch
        Function without arguments returning one ``(inputs, targets)`` batch,
        e.g. ``lambda: random_crops(xs, ys, 64, 8, rng)``. ``targets`` may be
        anything ``loss_fn`` understands (Noise2Void passes the noisy batch and
        its blind-spot mask).
    loss_fn
        ``loss_fn(model(inputs), targets)`` must return a scalar tensor, e.g.
        one of :data:`bioimaging_guide.losses.LOSSES`.
    steps
        Number of weight updates.
    lr
        Learning rate of Adam (Kingma & Ba 2015).
    decay
        Lower the learning rate smoothly to zero over the run (cosine
        schedule). With a constant learning rate the weights keep jumping
        around until the last step, so that two short runs compared at their
        last step can differ by chance; decaying the learning rate makes the
        end point of a short training much more stable.
    milestones
        Alternatively, halve the learning rate at these steps.
    validate
        Function ``validate(model) -> float`` (called in evaluation mode,
        without gradients) every ``eval_every`` steps; the weights with the
        lowest value are kept.
    eval_every
        Steps between two records of the :class:`History`.
    max_seconds
        Stop after this much training time (``History.stopped_early`` says so).
    progress
        Show a progress bar (for a reader waiting in a terminal; notebooks keep it off).
    """
    if decay and milestones:
        raise ValueError("choose either decay (cosine schedule) or milestones (step schedule), not both")
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = None
    if decay:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)
    elif milestones:
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimiser, milestones=list(milestones), gamma=0.5)
    history = History()
    best, best_state, running = np.inf, None, []
    start = time.perf_counter()
    model.train()
    for step in tqdm(range(1, steps + 1), desc="training", unit="step", disable=not progress):
        x, y = next_batch()
        optimiser.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimiser.step()
        if scheduler is not None:
            scheduler.step()
        history.append(float(loss.detach()))
        running.append(history[-1])
        out_of_time = max_seconds is not None and time.perf_counter() - start > max_seconds
        if step % eval_every == 0 or step == steps or out_of_time:
            history.step.append(step)
            history.train_loss.append(float(np.mean(running)))
            running = []
            if validate is not None:
                model.eval()
                with torch.no_grad():
                    value = float(validate(model))
                model.train()
                history.val_loss.append(value)
                if value < best:
                    best = value
                    best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
        if out_of_time:
            history.stopped_early = True
            break
    history.seconds = time.perf_counter() - start
    if best_state is not None:
        model.load_state_dict(best_state)
        model.eval()
    return history
