"""Params files are validated at the edge of the build: a bad file gives
one message naming the file, the key and the valid values."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
