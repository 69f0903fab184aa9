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


@pytest.mark.parametrize("override, message", [
    ("loss.name='crossentropy'", r"loss.name: unknown value 'crossentropy' \(did you mean 'cross_entropy'\?\); "
                                 r"choose one of sum_squared_error, mse"),
    ("data.name='mnist'", r"data.name: unknown value 'mnist' .*choose one of xor, spiral, sine, fashion_mnist"),
    ("model.activation='mish'", r"model.activation: unknown value 'mish'.*relu"),
    ("model.weight_init='kaiming'", r"model.weight_init: unknown value 'kaiming'; choose one of '', uniform"),
    ("model.kind='vgg'", r"model.kind: unknown value 'vgg'; choose one of mlp, lenet"),
    ("optim.name='adamm'", r"optim.name: unknown value 'adamm' \(did you mean 'adam'\?\)"),
    ("run.backend='gpu'", r"run.backend: unknown value 'gpu'; choose one of auto, numpy, cupy"),
    ("early_stopping.monitor='val_acc'", r"early_stopping.monitor: unknown value 'val_acc' "
                                         r"\(did you mean 'val_accuracy'\?\)"),
    ("optim.lr=-1", r"optim.lr must be a finite number ≥ 0, got -1.0"),
    ("optim.lr=nan", r"optim.lr must be a finite number ≥ 0, got nan"),
    ("optim.momentum=1.0", r"optim.momentum must be in \[0, 1\), got 1.0"),
    ("train.batch_size=0", r"train.batch_size must be ≥ 1, got 0"),
    ("train.epochs=-1", r"train.epochs must be ≥ 0, got -1"),
    ("data.n_samples=-5", r"data.n_samples must be ≥ 1, got -5"),
    ("data.val_fraction=1.5", r"data.val_fraction must be in \[0, 1\), got 1.5"),
    ("data.test_fraction=-0.1", r"data.test_fraction must be in \[0, 1\), got -0.1"),
    ("data.val_fraction=0.6", r"data.val_fraction \+ data.test_fraction must be < 1 .* got 0.6 \+ 0.4 = 1"),
    ("model.hidden=[32, 0]", r"model.hidden must be a list of layer sizes ≥ 1, got \[32, 0\]"),
])
def test_values_of_the_right_type_that_cannot_work_name_the_key(tmp_path, override, message):
    with pytest.raises(runconfig.ConfigError, match=r"^--set: " + message):
        runconfig.load(_write(tmp_path, "[data]\ntest_fraction = 0.4\n"), [override])


def test_fashion_mnist_ignores_test_fraction(tmp_path):
    """Fashion-MNIST has its own test set: only val_fraction cuts the training set."""
    cfg = runconfig.load(_write(tmp_path, "[data]\nname = 'fashion_mnist'\nval_fraction = 0.2\ntest_fraction = 0.9\n"))
    assert cfg["data"]["val_fraction"] == 0.2


def test_builder_errors_become_config_errors_naming_the_keys(tmp_path):
    """What validate cannot know (spiral needs 2 points; ResNet depth 6n + 2) fails naming the keys and values."""
    from dlcore.training import build, run

    cfg = runconfig.load(_write(tmp_path, f"[run]\nout_dir = '{tmp_path / 'runs'}'\n[data]\nn_samples = 1\n"))
    with pytest.raises(runconfig.ConfigError, match=r"^data.name = 'spiral', data.n_samples = 1, data.noise = 0.1: "
                                                    r"spiral: n \(the number of samples\) must be an int ≥ 2, got 1"):
        run.execute(cfg)
    cfg = runconfig.load(_write(tmp_path, "[model]\nkind = 'resnet'\ndepth = 3\n"))
    with pytest.raises(runconfig.ConfigError, match=r"^model.kind = 'resnet', model.depth = 3, "
                                                    r"model.base_channels = 16: ResNet: depth must be 6n \+ 2"):
        build.build_model(cfg, (1, 8, 8), 10)
    with pytest.raises(TypeError, match="a bug"):  # anything but ValueError/KeyError passes through unchanged
        with build.from_config(cfg, "model.kind"):
            raise TypeError("a bug")


def test_cuda_graph_with_what_a_graph_cannot_replay_names_the_keys(tmp_path):
    """The optimizer is asked by its class when the config loads (``Optimizer.capture_refusal``); the
    model once it is built (``Module.random_modules``: AlexNet's own dropout of 0.5 counts, which
    model.dropout = 0 leaves it), and a run stops there, before its folder is made."""
    from dlcore.training import build, run

    graph = f"[run]\ncuda_graph = true\nout_dir = '{tmp_path / 'runs'}'\n"
    with pytest.raises(runconfig.ConfigError, match=r"run.cuda_graph = true cannot train with optim.name = 'adam': "
                                                    r"Adam's bias correction changes every step and a graph replays "
                                                    r"the captured one; choose another optimizer or set "
                                                    r"run.cuda_graph = false$"):
        runconfig.load(_write(tmp_path, graph + "[optim]\nname = 'adam'\n"))
    cfg = runconfig.load(_write(tmp_path, graph + "[optim]\nname = 'momentum'\n[model]\ndropout = 0.2\n"))
    mlp = r"\(model.kind = 'mlp', model.dropout = 0.2: 2 Dropout\(p=0.2\), 5 Dropout\(p=0.2\)\)"
    with pytest.raises(runconfig.ConfigError, match=rf"^run.cuda_graph = true cannot train a model that draws random "
                                                    rf"numbers {mlp}: a graph would replay one draw on every step; "
                                                    rf"set run.cuda_graph = false$"):
        run.execute(cfg)
    assert not (tmp_path / "runs").exists()
    cfg = runconfig.load(_write(tmp_path, graph + "[optim]\nname = 'momentum'\n[model]\nkind = 'alexnet_small'\n"))
    with pytest.raises(runconfig.ConfigError, match=r"\(model.kind = 'alexnet_small', model.dropout = 0.0: "
                                                    r"classifier.0 Dropout\(p=0.5\), classifier.3 Dropout\(p=0.5\)\)"):
        runconfig.check_cuda_graph_model(cfg, build.build_model(cfg, (1, 8, 8), 3))
    cfg = runconfig.load(_write(tmp_path, graph + "[optim]\nname = 'momentum'\n[model]\nkind = 'lenet'\n"))
    runconfig.check_cuda_graph_model(cfg, build.build_model(cfg, (1, 12, 12), 3))  # no dropout: fine
    cfg = runconfig.load(_write(tmp_path, "[optim]\nname = 'adam'\n[model]\ndropout = 0.5\n"))  # eager: fine
    runconfig.check_cuda_graph_model(cfg, build.build_model(cfg, (2,), 2))


def test_model_dropout_zero_keeps_the_kinds_own_default(tmp_path):
    """model.dropout = 0 (the default) builds each kind with its constructor's dropout: none in an MLP,
    AlexNet's 0.5; any other value is passed on."""
    from dlcore.training import build

    def dropouts(kind, dropout, shape):
        cfg = runconfig.load(_write(tmp_path, f"[model]\nkind = '{kind}'\ndropout = {dropout}\n"))
        return [m.p for _, m in build.build_model(cfg, shape, 3).random_modules()]

    assert dropouts("mlp", 0.0, (2,)) == [] and dropouts("mlp", 0.3, (2,)) == [0.3, 0.3]
    assert dropouts("alexnet_small", 0.0, (1, 8, 8)) == [0.5, 0.5]
    assert dropouts("alexnet_small", 0.25, (1, 8, 8)) == [0.25, 0.25]


def test_cuda_graph_on_the_cpu_trains_eagerly_and_says_so(tmp_path, caplog):
    """A config written for the GPU runs on a CPU too: the same training, and one log line on the graph."""
    from dlcore.training import run

    summaries = []
    for graph in ("false", "true"):
        cfg = runconfig.load(_write(tmp_path, f"[run]\ncuda_graph = {graph}\nout_dir = '{tmp_path / 'runs'}'\n"
                                              "[optim]\nname = 'momentum'\n[train]\nepochs = 3\n"))
        with caplog.at_level("INFO", logger="dlcore"):
            summaries.append(run.execute(cfg))
    assert [r.message for r in caplog.records if "cuda_graph" in r.message] == [
        "run.cuda_graph = true: the numpy backend has no CUDA graphs; training eagerly"]
    assert summaries[0]["train_loss"] == summaries[1]["train_loss"] and summaries[1]["epochs"] == 3
