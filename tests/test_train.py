"""The training loop: handout defaults, repeatable runs, exact resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from a2.colour.train import EpochRecord, History, RunConfig, Trainer, colourise
from a2.config.files import ParamsError

TINY = dict(num_filters=4, batch_size=64, epochs=2, device="cpu")


def metrics(history: History) -> list[tuple[float, float, float]]:
    return [(r.train_loss, r.valid_loss, r.valid_acc) for r in history]


def test_run_config_defaults_are_the_handouts():
    c = RunConfig()
    assert (
        c.kernel,
        c.num_filters,
        c.num_colours,
        c.lr,
        c.batch_size,
        c.epochs,
        c.seed,
    ) == (3, 32, 24, 0.001, 100, 25, 0)


@pytest.mark.parametrize(
    "bad",
    [
        dict(lr=0),
        dict(model="resnet"),
        dict(shuffle="never"),
        dict(model="pool_upsample", kernel=4),
    ],
)
def test_run_config_rejects_bad_values_with_params_error(bad):
    with pytest.raises(ParamsError):
        RunConfig(**bad)


def test_a_few_steps_lower_the_training_loss(tiny_data):
    config = RunConfig(**{**TINY, "epochs": 3, "batch_size": 32})
    history = Trainer(config, tiny_data).fit(log=None)
    assert history[-1].train_loss < history[0].train_loss
    assert history[-1].valid_loss < history[0].valid_loss


def test_partial_last_batch_is_trained_on(tiny_data):
    # 128 images in batches of 48: two full batches and one of 32.
    config = RunConfig(**{**TINY, "epochs": 1, "batch_size": 48})
    trainer = Trainer(config, tiny_data)
    seen = []
    trainer.model.register_forward_pre_hook(
        lambda m, args: seen.append(len(args[0])) if m.training else None
    )
    trainer.fit(log=None)
    assert seen == [48, 48, 32]


@pytest.mark.parametrize("shuffle", ["once", "epoch"])
def test_two_runs_with_one_seed_give_identical_metrics(tiny_data, shuffle):
    config = RunConfig(**TINY, shuffle=shuffle)
    a = Trainer(config, tiny_data).fit(log=None)
    b = Trainer(config, tiny_data).fit(log=None)
    assert metrics(a) == metrics(b)
    c = Trainer(config.replace(seed=1), tiny_data).fit(log=None)
    assert metrics(c) != metrics(a)


def test_state_dict_resumes_bit_for_bit(tiny_data):
    config = RunConfig(**TINY, shuffle="epoch", model="unet")
    straight = Trainer(config, tiny_data).fit(log=None)
    first = Trainer(config.replace(epochs=1), tiny_data)
    first.fit(log=None)
    state = first.state_dict()
    torch.manual_seed(123)  # disturb the global RNGs between processes
    np.random.seed(123)
    resumed = Trainer(config, tiny_data)
    resumed.load_state_dict(state)
    assert metrics(resumed.fit(log=None)) == metrics(straight)


def test_epoch_table_has_one_fixed_width_row_per_epoch(tiny_data):
    lines = []
    Trainer(RunConfig(**TINY), tiny_data).fit(log=lines.append)
    assert len(lines) == 3 and len({len(line) for line in lines}) == 1
    assert lines[0].split()[:2] == ["epoch", "train"]


def test_history_turns_into_columns_for_plotting():
    rows = [EpochRecord(i, 1.0 / i, 2.0, 50.0, 0.1, 0.1) for i in (1, 2)]
    h = History(rows)
    assert h.columns()["train_loss"] == [1.0, 0.5]
    assert History.from_list(h.to_list()) == h


def test_colourise_returns_images_for_the_figures(tiny_data):
    trainer = Trainer(RunConfig(**{**TINY, "epochs": 1}), tiny_data)
    trainer.fit(log=None)
    out = colourise(trainer.model, tiny_data, n=3)
    assert out["grey"].shape == (3, 32, 32)
    for name in ("pred", "truth", "quantised"):
        assert out[name].shape == (3, 32, 32, 3)
        assert 0 <= out[name].min() and out[name].max() <= 1
    np.testing.assert_array_equal(
        out["quantised"][0],
        tiny_data.palette[tiny_data.valid_target[0].numpy()],
    )


# The command line: python -m a2 train ...


def test_cli_trains_then_loads_and_ignores_other_experiments_keys(
    a2_cache, horse_npz, tiny_data, tmp_path, monkeypatch, capsys
):
    from a2.__main__ import main

    monkeypatch.setenv("A2_DATA", str(horse_npz))
    colours = tmp_path / "colours.npy"  # a palette file
    np.save(colours, tiny_data.palette)
    params = tmp_path / "p.yaml"
    params.write_text(
        f"n_train: 100\nn_valid: 50\nepochs: 1\n"
        f"num_filters: 4\nseeds: [0, 1]\n"
        f"palette: {colours}\n"
    )
    assert main(["train", "--params", str(params)]) == 0
    out, err = capsys.readouterr()
    assert "training run" in out and "valid loss" in out
    assert "ignores" in err and "seeds" in err
    assert main(["train", "--params", str(params)]) == 0
    assert "loaded run" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args,message",
    [
        (["--set", "kernal=3"], "did you mean 'kernel'"),
        (["--set", "lr=-1"], "valid: a number > 0"),
        (["--set", "kernel=4"], "odd"),
        (["--set", "model=resnet"], "pool_upsample"),
    ],
)
def test_cli_bad_keys_or_values_exit_2_with_one_line(
    a2_cache, horse_npz, monkeypatch, capsys, args, message
):
    from a2.__main__ import main

    monkeypatch.setenv("A2_DATA", str(horse_npz))
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1
