"""Params files are validated at the edge of the build: a bad file gives
one message naming the file, the key and the valid values."""
from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

from a2 import config
from a2.pipeline.execute import section_params
from a2.pipeline.sections import resolve
from a2.config import ParamsError
from test_build import make_scratch


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_scratch(tmp_path / "book")


def params_error(root: Path, text: str, **kw: Path) -> str:
    path = root / "params/1-alpha.yaml"
    path.write_text(text)
    with pytest.raises(ParamsError) as err:
        section_params(root, resolve(root, "1"), **kw)
    return str(err.value)


def test_params_file_overrides_notebook_defaults(root: Path) -> None:
    assert section_params(root, resolve(root, "1")) == {
        "epochs": 2, "lr": 0.5}


def test_unknown_key_is_named_with_a_suggestion(root: Path) -> None:
    msg = params_error(root, "epoch: 2\n")
    assert msg == (f"{root}/params/1-alpha.yaml: unknown key 'epoch' "
                   "(did you mean 'epochs'?); valid keys: epochs, lr")


def test_key_of_another_section_is_unknown_here(root: Path) -> None:
    assert "unknown key 'n_train'" in params_error(root, "n_train: 8\n")


def test_wrong_type_names_the_valid_values(root: Path) -> None:
    assert params_error(root, "epochs: three\n").endswith(
        "key 'epochs' has value 'three'; valid: an integer >= 1")


def test_yaml_true_is_not_a_number(root: Path) -> None:
    assert "has value True" in params_error(root, "lr: true\n")


def test_out_of_range_names_the_valid_values(root: Path) -> None:
    assert params_error(root, "lr: -1\n").endswith(
        "key 'lr' has value -1; valid: a number > 0")


def test_missing_params_file_given_explicitly(root: Path) -> None:
    with pytest.raises(ParamsError, match="nope.yaml: params file not found"):
        section_params(root, resolve(root, "1"), root / "nope.yaml")


def test_section_without_params_file_runs_on_defaults(root: Path) -> None:
    assert section_params(root, resolve(root, "2")) == {"seed": 0}


def test_profile_applies_only_the_keys_a_section_takes(root: Path) -> None:
    profile = root / "params/smoke.yaml"
    assert section_params(root, resolve(root, "1"), profile=profile) == {
        "epochs": 1, "lr": 0.5}
    assert section_params(root, resolve(root, "2"), profile=profile) == {
        "seed": 0}


def test_profile_key_unknown_everywhere_is_an_error(root: Path) -> None:
    profile = root / "params/smoke.yaml"
    profile.write_text("n_trian: 1\n")
    with pytest.raises(ParamsError, match="unknown key 'n_trian' "
                       r"\(did you mean 'n_train'\?\)"):
        section_params(root, resolve(root, "2"), profile=profile)


def test_cli_prints_one_line_without_traceback(root: Path) -> None:
    (root / "params/1-alpha.yaml").write_text("lr: [1]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "a2.pipeline", "--root", str(root), "check"],
        capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: {root}/params/1-alpha.yaml: key 'lr' has value [1]; "
        "valid: a number > 0"]


def test_unknown_section_lists_the_valid_ones(root: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "a2.pipeline", "--root", str(root),
         "execute", "pooling", "--params", "x.yaml"],
        capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "error: unknown section 'pooling'; valid sections: 1-alpha, 2-beta"]


def test_repository_params_files_are_valid() -> None:
    """Every committed params file passes, alone and under the profile."""
    repo = Path(__file__).resolve().parents[1]
    from a2.pipeline.sections import notebooks
    for s in notebooks(repo):
        section_params(repo, s)
        section_params(repo, s, profile=repo / "params/smoke.yaml")


# --- the YAML a params file may hold ----------------------------------------

LAUGHS = "\n".join(
    ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"]
                                                       * 9) + "]"
       for i in range(8)] + ["lr: *i"]) + "\n"


def load_error(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "p.yaml"
    if isinstance(text, str):
        path.write_text(text)
    else:
        path.write_bytes(text)
    with pytest.raises(ParamsError) as err:
        config.load_yaml(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


@pytest.mark.parametrize("text,value", [
    ("1e-3", 0.001), ("1E-3", 0.001), ("5e2", 500.0), ("-2.5e-4", -2.5e-4),
    ("1.0e3", 1000.0), ("+1e+2", 100.0), ("0.5", 0.5), (".5", 0.5),
    ("3", 3), ("1_000", 1000)])
def test_numbers_are_read_in_the_notation_people_write(text, value):
    got = config.parse_yaml(f"lr: {text}")["lr"]
    assert got == value and type(got) is type(value)
    assert config.parse_override(f"lr={text}") == ("lr", value)


@pytest.mark.parametrize("text", ['"1e-3"', "'0.001'", "1e-3x", "e5",
                                  "1e", "0x1p-3"])
def test_strings_are_not_taken_for_numbers(text):
    value = config.parse_yaml(f"lr: {text}")["lr"]
    assert isinstance(value, str)
    with pytest.raises(ParamsError, match="valid: a number > 0"):
        config.check_value("lr", value)


FLOAT_KEYS = [k for k, s in config.SPECS.items() if s.kind == "float"]


@pytest.mark.parametrize("key", FLOAT_KEYS)
@pytest.mark.parametrize("text", [".inf", "-.inf", ".nan", "1e999",
                                  "1" + "0" * 400])
def test_every_float_key_refuses_non_finite_numbers(key, text):
    value = config.parse_yaml(f"x: {text}")["x"]
    with pytest.raises(ParamsError) as err:
        config.check_value(key, value, "p.yaml")
    assert "not a finite number" in str(err.value)
    assert len(str(err.value)) < 200


@pytest.mark.parametrize("key,lo,hi", [
    ("seed", 0, 2**32 - 1), ("num_filters", 1, 1024),
    ("num_colours", 2, 256), ("batch_size", 1, 65536),
    ("n_train", 1, 10**6), ("n_valid", 1, 10**6), ("n_samples", 1, 64),
    ("n", 1, 10_000), ("d", 1, 10_000), ("steps", 1, 100_000),
    ("adaptive_steps", 1, 100_000), ("instances", 1, 1000),
    ("trials", 1, 100_000), ("grid_points", 2, 10**6),
    ("base_steps", 1, 10**12)])
def test_sizes_and_seeds_are_bounded(key, lo, hi):
    assert config.check_value(key, lo) == lo
    assert config.check_value(key, hi) == hi
    for bad in (lo - 1, hi + 1, 10**30):
        with pytest.raises(ParamsError, match=f"key '{key}' has value"):
            config.check_value(key, bad)


@pytest.mark.parametrize("key,good,bad", [
    ("seeds", [0, 2**32 - 1], [0, 2**32]),
    ("seeds", [0] * 32, [0] * 33),
    ("batch_sizes", [1, 65536], [64, 65537]),
    ("batch_sizes", [64], [])])
def test_lists_of_sizes_and_seeds_are_bounded(key, good, bad):
    assert config.check_value(key, good) == good
    with pytest.raises(ParamsError, match="a list of 1 to 32 integers"):
        config.check_value(key, bad)


def test_a_seed_that_fits_no_generator_stops_the_run_config():
    from a2.train import RunConfig

    with pytest.raises(ParamsError, match="2\\*\\*32 - 1"):
        RunConfig(seed=2**32)


@pytest.mark.parametrize("text", [
    LAUGHS, "a: &x 1\n", "a: &x 1\nb: *x\n",
    "base: &b {lr: 1}\nother:\n  <<: *b\n", "seeds: [&s 1, *s]\n"])
def test_anchors_and_aliases_are_refused_fast(tmp_path, text):
    start = time.monotonic()
    message = load_error(tmp_path, text)
    assert time.monotonic() - start < 1.0
    assert "anchors and aliases (&name, *name) are not allowed" in message


def test_an_alias_in_a_set_value_is_refused():
    with pytest.raises(ParamsError, match="^--set 'seeds=\\[&s 1, \\*s\\]'"
                       ": value line 1: anchors and aliases"):
        config.parse_override("seeds=[&s 1, *s]")


def test_deep_nesting_is_refused_fast(tmp_path):
    start = time.monotonic()
    message = load_error(tmp_path, "lr: " + "[" * 30_000 + "]" * 30_000)
    assert time.monotonic() - start < 1.0
    assert "nested deeper than" in message


@pytest.mark.parametrize("text", [
    "lr: [" + ", ".join(["1"] * 5000) + "]\n",
    "lr: [[[[[[1]]]]]]\n",
    "model: " + "x" * 20_000 + "\n",
    "lr: {" + ", ".join(f"k{i}: {i}" for i in range(3000)) + "}\n",
    "lr: '" + "\\u00e9" * 5000 + "'\n"])
def test_a_huge_value_is_cut_short_in_the_message(tmp_path, text):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    raw = config.load_yaml(path)
    key, value = next(iter(raw.items()))
    with pytest.raises(ParamsError) as err:
        config.check_value(key, value, str(path))
    message = str(err.value)
    assert len(message) < len(str(path)) + 250 and "\n" not in message
    assert "..." in message


def test_a_huge_unknown_key_is_cut_short(tmp_path):
    with pytest.raises(ParamsError) as err:
        config.validate({"k" * 10_000: 1}, {"lr": 0.1}, "p.yaml")
    assert len(str(err.value)) < 200


def test_a_duplicate_key_is_named(tmp_path):
    message = load_error(tmp_path, "lr: 0.1\nepochs: 2\nlr: 0.2\n")
    assert message.endswith("line 3: key 'lr' appears twice")
    nested = load_error(tmp_path, "x: {a: 1, a: 2}\n")
    assert "key 'a' appears twice" in nested


def test_a_file_that_is_not_utf8_is_one_line(tmp_path):
    message = load_error(tmp_path, b"lr: 0.1\nmodel: caf\xe9\n")
    assert message.endswith("not UTF-8 text (byte 0xe9 at offset 18); "
                            "save it as UTF-8")


def test_a_folder_is_not_a_params_file(tmp_path):
    with pytest.raises(ParamsError) as err:
        config.load_yaml(tmp_path)
    assert str(err.value) == f"{tmp_path}: is a folder, not a file"


def test_an_oversized_file_is_refused(tmp_path):
    message = load_error(tmp_path, "# padding\n" * 10_000 + "lr: 1\n")
    assert "a params file is at most 65536 bytes" in message


@pytest.mark.parametrize("text", ["lr: " + "9" * 5000,
                                  "lr: [1,\n", "lr: !!python/object:os.system"
                                  " x\n", "? [1, 2]\n: 3\n"])
def test_bad_yaml_is_one_line(tmp_path, text):
    assert "not valid YAML (" in load_error(tmp_path, text)


def test_scientific_notation_reaches_the_section(root: Path) -> None:
    (root / "params/1-alpha.yaml").write_text("lr: 5E-1\n")
    assert section_params(root, resolve(root, "1"))["lr"] == 0.5


def test_finite_values_are_kept():
    assert config.check_value("lr", 1) == 1.0
    assert math.isfinite(config.check_value("base_params", 1e300))
