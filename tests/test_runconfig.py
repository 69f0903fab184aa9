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


def test_run_tf32_holds_for_the_run_only(tmp_path, monkeypatch):
    """``run.tf32 = true`` allows TF32 while the run trains and puts the previous setting back after."""
    import backends
    from dlcore.training import run

    seen = []
    monkeypatch.setattr(run, "_train_and_report", lambda *args: seen.append(backends.tf32_enabled()) or {})
    previous = backends.set_tf32(False)
    try:
        for text in ("", "[run]\ntf32 = true\n", "[run]\ntf32 = false\n"):
            run.execute(runconfig.load(_write(tmp_path, text)))
            assert backends.tf32_enabled() is False
        assert seen == [False, True, False]
        with pytest.raises(runconfig.ConfigError, match=r"'run.tf32' must be bool, got 'yes'"):
            runconfig.load(_write(tmp_path, "[run]\ntf32 = 'yes'\n"))
    finally:
        backends.set_tf32(previous)
