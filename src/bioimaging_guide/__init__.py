"""Helpers shared by the notebooks of *AI in Microscopy: A BioImaging Guide*.

The notebooks stay short and readable: everything they would otherwise copy
from one another (loading the book's datasets by name, evaluating
segmentations, plotting overlays, the book's small neural networks) lives in
this package, where it is documented and tested.

Modules
-------
data
    Named, hash-checked datasets (DSB 2018 nuclei, GigaDB low/high-SNR pairs,
    a mitosis time-lapse, a BBBC022 field).
evaluation
    Segmentation metrics: IoU, matching, precision/recall/F1, average
    precision, panoptic quality, error breakdowns, bootstrap intervals.
counting
    Nuclei counting (chapter 3): the corrected counter, synthetic test
    images with a known number of nuclei, and count-agreement summaries.
segmentation
    The classical baseline (Otsu threshold + distance-transform watershed).
uncertainty
    Test-time augmentation to flag uncertain objects of any method.
stats
    Effect sizes and power simulations ("is it good enough for my question?").
plotting
    Colour-blind-safe overlays of true/false positives and negatives.
noise
    Camera noise models: photon transfer curves estimated from single
    images, the generalised Anscombe transform, pixel-noise correlation.
restoration
    The chapter 6 denoising benchmark: tiles split by region, classical
    denoisers, BM3D, CARE training/loading, PSNR/SSIM after normalisation.
unet
    A small, readable U-Net in PyTorch (used by Noise2Void and chapter 4).
n2v
    Noise2Void: blind-spot masking, masked loss and training, in PyTorch.
optics
    Scalar Fourier optics for sensorless adaptive optics: Zernike modes,
    PSFs, aberrated images, a modal search and a small CNN estimator.
repo
    The book's repository URL and everything derived from it (Colab links,
    notebook badges, citation metadata).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
