"""Helpers shared by the notebooks of *AI in Microscopy: A BioImaging Guide*.

The notebooks stay short and readable: everything they would otherwise copy
from one another (loading the book's datasets by name, evaluating
segmentations, plotting overlays, the book's small neural networks) lives in
this package, where it is documented and tested.

Where things live (one home per idea; each chapter's helpers in one place)
-------------------------------------------------------------------------
common
    Shared basics: percentile normalisation, seeding, keeping library noise
    out of outputs, environment records. Look here before writing a helper.
data
    Named, hash-checked datasets (DSB 2018 nuclei, GigaDB low/high-SNR pairs,
    a mitosis time-lapse, a BBBC022 field).
plotting
    Colour-blind-safe overlays of true/false positives and negatives.
features, pixel_classifier
    Machine learning before deep learning (chapters 2 and 8): multi-scale
    pixel features, random forests from brush strokes, k-means.
counting
    Nuclei counting (chapter 3): the corrected counter, synthetic test
    images with a known number of nuclei, and count-agreement summaries.
unet, losses
    Deep learning from parts (chapter 4): a readable PyTorch U-Net, the
    book's one training loop, and the loss functions.
noise
    Camera noise models (chapters 5 and 6): photon transfer curves, the
    generalised Anscombe transform, pixel-noise correlation.
restoration
    The restoration benchmark (chapter 6): splits by region, classical
    denoisers and BM3D, PSNR/SSIM after a documented normalisation.
n2v
    Noise2Void (chapter 6): blind-spot masking, masked loss and training.
restoration_models
    The book's trained denoisers, CARE and Noise2Void: train, save, load, score.
optics
    Sensorless adaptive optics (chapter 6): Zernike modes, PSFs, a modal
    search and a small CNN estimator.
events
    Event detection and a simulated event-driven microscope (chapter 7).
segmentation
    The classical nucleus segmentation baseline (Otsu + watershed).
segmentation_models
    The book's trained segmenters, StarDist and Cellpose: train, load, score
    (chapters 8 and 9).
models
    The registry of the four shipped models: one life for all (train from
    ``models/NAME/training.json``, save, load, predict, generated model card).
modelzoo
    A StarDist model as a BioImage Model Zoo (bioimage.io) package, validated
    with ``bioimageio.spec``, for deepImageJ, ilastik, QuPath and napari.
evaluation, uncertainty, stats
    Output quality (chapter 10): matching and metrics, bootstrap intervals,
    test-time augmentation, effect sizes and power.
images, measurements, userdata
    The reader's own images (chapter 9): reading channels, time points and
    z-planes from file metadata; measurement tables and overlays; checking,
    fine-tuning on and scoring against the reader's own annotations.
cli
    The ``bioimaging-guide`` command: ``segment``, ``check``, ``train``,
    ``evaluate``, ``denoise``, ``export``.
bookvalues
    The numbers a chapter quotes, published by the notebook that computes
    them (the book extension's ``value`` shortcode prints them).

Authoring tools (book checks, repository-URL sync, notebook scaffolding) are
not part of this package: they live in ``tools/`` of the repository.
"""

import os as _os

# TensorFlow logs from C++ straight to the terminal (TensorFlow 2.20 on Colab prints nine
# "NodeDef mentions attribute use_unbounded_threadpool" lines per training); errors that
# matter still raise Python exceptions. Set before any module of this package imports it.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"

__all__ = ["__version__"]
