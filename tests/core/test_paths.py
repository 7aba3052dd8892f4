"""Where galaxy10 keeps data, models and reports: made where written, only looked in where read."""

from __future__ import annotations

import pytest

from galaxy10.core.errors import SettingError
from galaxy10.core.paths import find_models_home, get_models_home


def test_looking_for_a_model_makes_no_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside a checkout: the working directory's models/
    monkeypatch.delenv("GALAXY10_MODELS", raising=False)
    assert find_models_home() == tmp_path / "models"
    assert find_models_home(tmp_path / "mine") == tmp_path / "mine"
    assert not (tmp_path / "models").exists() and not (tmp_path / "mine").exists()
    assert get_models_home() == tmp_path / "models" and (tmp_path / "models").is_dir()


def test_a_models_folder_that_is_a_file_is_refused_by_name(tmp_path, monkeypatch):
    (tmp_path / "models.txt").write_text("not a folder")
    monkeypatch.setenv("GALAXY10_MODELS", str(tmp_path / "models.txt"))
    with pytest.raises(SettingError, match=r"GALAXY10_MODELS=.*models\.txt: names a file"):
        find_models_home()
    monkeypatch.setenv("GALAXY10_MODELS", str(tmp_path / "models.txt" / "inside"))
    with pytest.raises(SettingError, match=r"inside: cannot be a folder: .*models\.txt is a file"):
        find_models_home()
