"""The book's trained models (installed as ``bioimaging_guide.shipped_models``); see README.md."""
