"""The registry of shipped models: one life (train from the saved recipe, save, load, predict, generated card)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from bioimaging_guide import models
from bioimaging_guide.models import REGISTRY, SHIPPED, load_model, model_folder, train_model, write_model_card


def test_registry_knows_all_four_shipped_models():
    assert set(SHIPPED) == {"stardist-dsb2018", "cellpose-dsb2018", "care-gigadb", "n2v-gigadb"}
    assert {m.task for m in REGISTRY.values()} == {"segmentation", "restoration"}


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_has_recipe_and_a_generated_card(name, tmp_path):
    folder = model_folder(name)
    recipe = json.loads((folder / "training.json").read_text())
    assert recipe["model"] == name and "seed" in recipe and "data" in recipe
    for needed in ("MODEL_CARD.md", "metrics.json", "history.json", "config.json"):
        assert (folder / needed).is_file(), needed
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size <= 10 * 1024**2, f"{name}: {size / 1024**2:.1f} MB"
    # the card is exactly what write_model_card makes from training.json and metrics.json: no hand edits
    copy = shutil.copytree(folder, tmp_path / name)
    write_model_card(copy)
    assert (copy / "MODEL_CARD.md").read_text() == (folder / "MODEL_CARD.md").read_text(), (
        f"models/{name}/MODEL_CARD.md differs from the generated card; regenerate it with write_model_card"
    )
    card = (folder / "MODEL_CARD.md").read_text()
    for needed in (
        "training data",
        "split",
        "augmentation",
        "seed",
        "hardware",
        "wall time",
        "licence",
        f"bioimaging-guide train {name}",
    ):
        assert needed in card, needed


def test_card_follows_the_recipe(tmp_path):
    copy = shutil.copytree(model_folder("n2v-gigadb"), tmp_path / "n2v-gigadb")
    recipe = json.loads((copy / "training.json").read_text())
    recipe["steps"], recipe["learning_rate"] = 1234, 0.0042
    (copy / "training.json").write_text(json.dumps(recipe))
    write_model_card(copy)
    card = (copy / "MODEL_CARD.md").read_text()
    assert "1234 steps" in card and "0.0042" in card and "3000 steps" not in card


def test_load_model_checks_names_and_tasks(tmp_path):
    with pytest.raises(ValueError, match="unknown model"):
        load_model("not-a-model")
    with pytest.raises(ValueError, match="is a restoration model; for segmentation use one of"):
        load_model("n2v-gigadb", task="segmentation")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="neither"):
        load_model(tmp_path / "empty")


def test_loaded_models_predict_by_task(real_data):
    image = np.random.default_rng(0).poisson(20, (64, 80)).astype(np.uint16)
    for name in SHIPPED:
        out = load_model(name).predict(image)
        assert out.shape == image.shape
        assert out.dtype == (np.int32 if REGISTRY[name].task == "segmentation" else np.float32), name


def test_train_model_refuses_unknown_settings_and_existing_output(tmp_path):
    with pytest.raises(ValueError, match="unknown model"):
        train_model("nucleus-magic", tmp_path)
    with pytest.raises(ValueError, match="no training setting 'epochz'"):
        train_model("care-gigadb", tmp_path, overrides={"epochz": 2})
    (tmp_path / "care-gigadb").mkdir()
    with pytest.raises(FileExistsError, match="--overwrite"):
        train_model("care-gigadb", tmp_path)


def test_failed_training_leaves_nothing_behind(tmp_path, monkeypatch):
    def broken(cfg, folder, verbose):
        folder.mkdir(parents=True)
        (folder / "weights.pt").write_text("half")
        raise RuntimeError("out of memory")

    spec = REGISTRY["n2v-gigadb"]
    monkeypatch.setitem(REGISTRY, "n2v-gigadb", models.ShippedModel(**{**spec.__dict__, "train": broken}))
    (tmp_path / "n2v-gigadb").mkdir()
    (tmp_path / "n2v-gigadb" / "keep.txt").write_text("previous model")
    with pytest.raises(RuntimeError, match="out of memory"):
        train_model("n2v-gigadb", tmp_path, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["n2v-gigadb"]
    assert (tmp_path / "n2v-gigadb" / "keep.txt").read_text() == "previous model"


def test_short_real_training_goes_through_the_whole_life(tmp_path, real_data):
    folder = train_model("n2v-gigadb", tmp_path, overrides={"steps": 60, "eval_every": 30}, verbose=False)
    assert sorted(p.name for p in folder.iterdir()) == [
        "MODEL_CARD.md",
        "config.json",
        "history.json",
        "metrics.json",
        "training.json",
        "weights.pt",
    ]
    assert json.loads((folder / "training.json").read_text())["steps"] == 60
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["test"]["psnr"] > metrics["test"]["noisy_input_psnr"]  # even 60 steps denoise a little
    assert "60 steps" in (folder / "MODEL_CARD.md").read_text()
    assert json.loads((folder / "history.json").read_text())["step"] == [30, 60]
    # a 60-step model does not reproduce the shipped card; the shipped model itself does
    assert models.compare_to_card(folder)
    assert not models.compare_to_card(model_folder("n2v-gigadb"))
    assert load_model(folder).predict(np.ones((16, 16)) + np.eye(16)).shape == (16, 16)
