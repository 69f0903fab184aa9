"""Config files: defaults, validation errors that name the key, overrides."""
import pytest

from dlcore.training import runconfig


def _write(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_defaults_and_overrides(tmp_path):
    cfg = runconfig.load(_write(tmp_path, "[optim]\nlr = 0.5\n"), ["train.epochs=3", "model.hidden=[4, 4]",
                                                                   "model.activation=relu"])
    assert cfg["optim"]["lr"] == 0.5 and cfg["optim"]["name"] == "adam"
    assert cfg["train"]["epochs"] == 3 and cfg["model"]["hidden"] == [4, 4]
    assert cfg["model"]["activation"] == "relu"


def test_unknown_key_lists_valid_keys(tmp_path):
    with pytest.raises(runconfig.ConfigError, match=r"unknown key optim.learning_rate.*valid keys in \[optim\]: name, lr"):
        runconfig.load(_write(tmp_path, "[optim]\nlearning_rate = 0.1\n"))


def test_unknown_section(tmp_path):
    with pytest.raises(runconfig.ConfigError, match=r"unknown section \[optimizer\]"):
        runconfig.load(_write(tmp_path, "[optimizer]\nlr = 0.1\n"))


def test_wrong_type_names_key(tmp_path):
    with pytest.raises(runconfig.ConfigError, match=r"'train.epochs' must be int, got 'ten'"):
        runconfig.load(_write(tmp_path, "[train]\nepochs = 'ten'\n"))


def test_missing_file_and_bad_override(tmp_path):
    with pytest.raises(runconfig.ConfigError, match="does not exist"):
        runconfig.load(tmp_path / "nope.toml")
    with pytest.raises(runconfig.ConfigError, match="section.key=value"):
        runconfig.load(_write(tmp_path, ""), ["epochs=3"])


def test_every_shipped_config_is_valid():
    from pathlib import Path

    configs = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.toml"))
    assert len(configs) >= 5
    for path in configs:
        cfg = runconfig.load(path)
        assert cfg["run"]["name"], path
