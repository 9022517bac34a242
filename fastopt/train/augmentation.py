r"""Data augmentation for batches of images in NumPy: random flips, random crops with
padding, additive Gaussian noise.

Batches are 4-D: ``layout="NHWC"`` (default: samples, rows, columns, channels, as
stored by most image loaders) or ``layout="NCHW"`` (PyTorch's).  Every function draws
from a seeded :class:`numpy.random.Generator` (``seed``: an int, a Generator, a
SeedSequence or ``None``), so the same seed gives the same augmented batch, and writes
into ``out`` (a preallocated array like ``images``; it may be ``images`` itself, for
in-place augmentation) without allocating batch-sized temporaries, except where noted.

==========================  =============================================================
:func:`random_flip`         mirror each image with probability ``p`` (left-right:
                            ``direction="horizontal"``; upside-down: ``"vertical"``)
:func:`random_crop`         shift each image by up to ``padding`` pixels in each direction,
                            filling with ``fill``: a crop of the image padded by
                            ``padding`` back to its own size (torchvision's
                            ``RandomCrop(size, padding)``; Krizhevsky et al., 2012)
:func:`gaussian_noise`      :math:`x + \sigma\varepsilon`, :math:`\varepsilon \sim N(0, 1)`
:class:`Augment`            the three in sequence, with one generator and a workspace
==========================  =============================================================

Random draws, in order, per call: flips ``rng.random(N)`` (flip where ``< p``); crops
``rng.integers(0, 2 * padding + 1, size=(N, 2))`` (the top-left corner of the crop in
the padded image, rows then columns); noise ``rng.standard_normal(images.shape)`` in
the images' dtype.
"""
import numpy as np

from . import _args
from .._internal import validation as check
from .._internal.random import as_generator

__all__ = ["random_flip", "random_crop", "gaussian_noise", "Augment"]

_LAYOUTS = {"NHWC": (1, 2), "NCHW": (2, 3)}


def _images(images, layout, out, *, floating=False):
    """Check the batch and ``out``; returns ``(out, h_axis, w_axis)``."""
    if not isinstance(images, np.ndarray):
        raise TypeError(f"images must be a numpy.ndarray, got {type(images).__name__}")
    if floating and images.dtype not in check.FLOAT_DTYPES:
        raise TypeError(f"images must have dtype float32 or float64, got {images.dtype} "
                        f"(convert integer images first, e.g. images / 255)")
    if images.dtype.kind not in "fiub":
        raise TypeError(f"images must be numeric, got dtype {images.dtype}")
    if images.ndim != 4:
        raise ValueError(f"images must be a 4-D batch ({layout}), got shape {images.shape}")
    h_axis, w_axis = _LAYOUTS[_args.choice("layout", layout, tuple(_LAYOUTS))]
    if out is None:
        out = np.empty_like(images)
    else:
        _args.output("out", out, images.shape, images.dtype, (images,))
    return out, h_axis, w_axis


def random_flip(images, *, direction="horizontal", p=0.5, layout="NHWC", seed=None, out=None):
    """Mirror each image of the batch with probability ``p``; returns ``out``.

    ``direction``: ``"horizontal"`` (reverse the columns) or ``"vertical"`` (the rows).
    ``images``: 4-D, any numeric dtype.  ``out``: like ``images`` (default: a new array);
    may be ``images``.  Raises ``TypeError``/``ValueError`` for a bad batch, ``out``,
    ``p`` outside [0, 1], or an unknown ``direction``/``layout``.
    """
    direction = _args.choice("direction", direction, ("horizontal", "vertical"))
    p = _args.probability("p", p, one_allowed=True)
    out, h_axis, w_axis = _images(images, layout, out)
    rng = as_generator(seed)
    flip = rng.random(images.shape[0]) < p
    axis = (w_axis if direction == "horizontal" else h_axis) - 1  # the axis within one image
    reverse = tuple(slice(None, None, -1) if a == axis else slice(None) for a in range(3))
    for i in range(images.shape[0]):
        if flip[i]:
            np.copyto(out[i], images[i][reverse])  # overlap (out is images) handled by NumPy
        elif out is not images:
            np.copyto(out[i], images[i])
    return out


def random_crop(images, padding, *, fill=0, layout="NHWC", seed=None, out=None):
    """Pad each image by ``padding`` pixels of ``fill`` on every side and cut a random
    window of the original size; returns ``out``.

    Equivalently, each image is shifted by ``(dy, dx)`` in ``[-padding, padding]``, with
    ``fill`` in the uncovered border.  The padded image is never built.  ``padding``: an
    integer ``>= 0``; ``fill``: a real number.  ``out`` may be ``images``.
    """
    padding = _args.integer("padding", padding, minimum=0)
    fill = check.real("fill", fill)
    out, h_axis, w_axis = _images(images, layout, out)
    rng = as_generator(seed)
    n = images.shape[0]
    corners = rng.integers(0, 2 * padding + 1, size=(n, 2))
    H, W = images.shape[h_axis], images.shape[w_axis]
    for i in range(n):
        dy, dx = int(corners[i, 0]) - padding, int(corners[i, 1]) - padding
        # out[y, x] = images[y + dy, x + dx] where that is inside the image, else fill
        y0, y1 = max(0, -dy), min(H, H - dy)
        x0, x1 = max(0, -dx), min(W, W - dx)
        dst = [slice(None)] * 3
        src = [slice(None)] * 3
        dst[h_axis - 1], dst[w_axis - 1] = slice(y0, max(y0, y1)), slice(x0, max(x0, x1))
        src[h_axis - 1] = slice(y0 + dy, max(y0, y1) + dy)
        src[w_axis - 1] = slice(x0 + dx, max(x0, x1) + dx)
        o = out[i]
        np.copyto(o[tuple(dst)], images[i][tuple(src)])
        for region in _border(h_axis - 1, w_axis - 1, y0, y1, x0, x1, H, W):
            o[region] = fill
    return out


def _border(ha, wa, y0, y1, x0, x1, H, W):
    """The slices of one image outside rows [y0, y1) x columns [x0, x1)."""
    y1, x1 = max(y0, y1), max(x0, x1)
    regions = []
    for rows, cols in (((0, y0), (0, W)), ((y1, H), (0, W)), ((y0, y1), (0, x0)),
                       ((y0, y1), (x1, W))):
        if rows[1] > rows[0] and cols[1] > cols[0]:
            r = [slice(None)] * 3
            r[ha], r[wa] = slice(*rows), slice(*cols)
            regions.append(tuple(r))
    return regions


def gaussian_noise(images, std, *, layout="NHWC", seed=None, out=None, workspace=None):
    """``out = images + std * eps`` with ``eps`` standard normal, drawn in the images' dtype.

    ``images``: float32 or float64.  ``std``: σ >= 0.  With ``out`` distinct from
    ``images`` nothing is allocated (the noise is drawn into ``out``); in place
    (``out is images``) the noise needs a buffer: ``workspace`` (like ``images``) or a
    new one.  Raises ``TypeError``/``ValueError`` for a bad batch, ``out`` or
    ``workspace``, a negative or non-finite ``std``, or an unknown ``layout``.
    """
    std = check.nonnegative("std", std)
    out, _, _ = _images(images, layout, out, floating=True)
    rng = as_generator(seed)
    t = images.dtype.type
    if out is images:
        if workspace is None:
            workspace = np.empty_like(images)
        else:
            _args.output("workspace", workspace, images.shape, images.dtype, (images,))
        buf = workspace
    else:
        buf = out
    rng.standard_normal(dtype=images.dtype, out=buf)
    buf *= t(std)
    if out is images:
        out += buf
    else:
        out += images
    return out


class Augment:
    """Flips, crops and noise applied in sequence to each batch, from one seeded generator.

    Args:
        horizontal_flip: probability in [0, 1] of a left-right flip (default 0.5).
        vertical_flip: probability in [0, 1] of an up-down flip (default 0).
        padding: crop padding, int >= 0 (default 0: no crop).
        noise_std: σ >= 0 of the additive noise (default 0: none; needs float images).
        fill: the value of the uncovered border of a crop (default 0).
        layout: ``"NHWC"`` (default) or ``"NCHW"``.
        seed: int, Generator, SeedSequence or None.  The generator is created once:
            successive calls continue its stream, so a run with the same seed sees the
            same sequence of augmented batches.

    Raises:
        TypeError: an argument of the wrong type; a bad batch or ``out`` when called.
        ValueError: a probability outside [0, 1], a negative ``padding`` or
            ``noise_std``, an unknown ``layout``.

    ``augment(images, out=None)`` returns the augmented batch (``out`` may be ``images``);
    a workspace for in-place noise is kept between calls.
    """

    def __init__(self, *, horizontal_flip=0.5, vertical_flip=0.0, padding=0, noise_std=0.0,
                 fill=0.0, layout="NHWC", seed=None):
        self.horizontal_flip = _args.probability("horizontal_flip", horizontal_flip,
                                                 one_allowed=True)
        self.vertical_flip = _args.probability("vertical_flip", vertical_flip, one_allowed=True)
        self.padding = _args.integer("padding", padding, minimum=0)
        self.noise_std = check.nonnegative("noise_std", noise_std)
        self.fill = check.real("fill", fill)
        self.layout = _args.choice("layout", layout, tuple(_LAYOUTS))
        self.rng = as_generator(seed)
        self._workspace = None

    def __call__(self, images, out=None):
        out, _, _ = _images(images, self.layout, out, floating=self.noise_std > 0)
        src = images
        if self.horizontal_flip > 0:
            random_flip(src, direction="horizontal", p=self.horizontal_flip,
                        layout=self.layout, seed=self.rng, out=out)
            src = out
        if self.vertical_flip > 0:
            random_flip(src, direction="vertical", p=self.vertical_flip, layout=self.layout,
                        seed=self.rng, out=out)
            src = out
        if self.padding > 0:
            random_crop(src, self.padding, fill=self.fill, layout=self.layout, seed=self.rng,
                        out=out)
            src = out
        if self.noise_std > 0:
            if src is out:
                ws = self._workspace
                if ws is None or ws.shape != out.shape or ws.dtype != out.dtype:
                    ws = self._workspace = np.empty_like(out)
                gaussian_noise(out, self.noise_std, layout=self.layout, seed=self.rng, out=out,
                               workspace=ws)
            else:
                gaussian_noise(src, self.noise_std, layout=self.layout, seed=self.rng, out=out)
            src = out
        if src is not out:
            np.copyto(out, src)
        return out

    def __repr__(self):
        return (f"Augment(horizontal_flip={self.horizontal_flip}, "
                f"vertical_flip={self.vertical_flip}, padding={self.padding}, "
                f"noise_std={self.noise_std}, layout={self.layout!r})")
