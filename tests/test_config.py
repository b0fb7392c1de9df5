"""Each section's parameters have one schema (a2.params) and are validated
at the edge of the build: a bad file gives one message naming the file,
the key and the valid values."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from a2 import params
from a2.config import ParamsError
from a2.pipeline.execute import section_params
from a2.pipeline.sections import notebooks, resolve
from a2.train import RunConfig

REPO = Path(__file__).resolve().parents[1]


def error(text: str, section: str = "4", **kw: Path) -> str:
    """The message a params file with ``text`` gives for ``section``."""
    path = kw.pop("path")
    path.write_text(text)
    with pytest.raises(ParamsError) as err:
        section_params(REPO, resolve(REPO, section), path, **kw)
    return str(err.value)


@pytest.fixture
def yaml_file(tmp_path: Path) -> Path:
    return tmp_path / "p.yaml"


def test_every_default_is_stated_once_in_the_schema() -> None:
    p = params.load("5-transposed")
    assert p.epochs == params.TRAINING["epochs"] == RunConfig().epochs
    assert p.lr == RunConfig().lr and p.kernel == RunConfig().kernel
    assert params.load("4-pooling").batch_size == RunConfig().batch_size


def test_a_key_means_one_thing_within_its_section() -> None:
    """'steps' is SGD steps in section 1 and NQM steps in section 3: each
    with its own default and range."""
    assert params.load("1-optimization").steps == 3000
    assert params.load("3-resources").steps == 100
    assert params.schema("1-optimization").get("steps").help != (
        params.schema("3-resources").get("steps").help)


def test_params_file_overrides_the_defaults(yaml_file: Path) -> None:
    yaml_file.write_text("epochs: 2\nlr: 0.5\n")
    assert section_params(REPO, resolve(REPO, "4"), yaml_file) == {
        "epochs": 2, "lr": 0.5}
    p = params.load("4-pooling", {"epochs": 2})
    assert p.epochs == 2 and p.changed() == ["epochs"]


def test_unknown_key_is_named_with_a_suggestion(yaml_file: Path) -> None:
    msg = error("epoch: 2\n", path=yaml_file)
    assert msg.startswith(f"{yaml_file}: unknown key 'epoch' (did you mean "
                          "'epochs'?); valid keys for 4-pooling: kernel, ")


def test_key_of_another_section_is_unknown_here(yaml_file: Path) -> None:
    assert "unknown key 'seeds'" in error("seeds: [1]\n", path=yaml_file)


def test_wrong_type_names_the_valid_values(yaml_file: Path) -> None:
    assert error("epochs: three\n", path=yaml_file).endswith(
        "key 'epochs' has value 'three'; valid: an integer >= 1")


def test_yaml_true_is_not_a_number(yaml_file: Path) -> None:
    assert "has value True" in error("lr: true\n", path=yaml_file)


def test_out_of_range_names_the_valid_values(yaml_file: Path) -> None:
    assert error("lr: -1\n", path=yaml_file).endswith(
        "key 'lr' has value -1; valid: a number > 0")


def test_section_keys_have_their_own_ranges(yaml_file: Path) -> None:
    assert error("beta: 1\n", "1", path=yaml_file).endswith(
        "key 'beta' has value 1; valid: a number in [0, 1)")
    assert error("seed: 4294967296\n", "1", path=yaml_file).endswith(
        "valid: an integer in [0, 2**32)")


def test_even_kernel_is_refused_where_pool_upsample_trains(
        yaml_file: Path) -> None:
    msg = error("kernel: 4\n", "4", path=yaml_file)
    assert "key 'kernel' has value 4; valid: 3 or 5 for section " \
        "4-pooling, which trains pool_upsample" in msg


def test_missing_params_file_given_explicitly() -> None:
    with pytest.raises(ParamsError, match="nope.yaml: params file not found"):
        section_params(REPO, resolve(REPO, "1"), REPO / "nope.yaml")


def test_profile_entries_apply_to_their_section_only(tmp_path: Path) -> None:
    profile = tmp_path / "smoke.yaml"
    profile.write_text("4-pooling: {epochs: 1}\n1-optimization: {steps: 9}\n")
    assert section_params(REPO, resolve(REPO, "4"), profile=profile) == {
        "epochs": 1}
    assert section_params(REPO, resolve(REPO, "1"), profile=profile) == {
        "steps": 9}
    assert section_params(REPO, resolve(REPO, "2"), profile=profile) == {}


def test_profile_key_that_is_no_section_is_an_error(tmp_path: Path) -> None:
    profile = tmp_path / "smoke.yaml"
    profile.write_text("4-poling: {epochs: 1}\n")
    with pytest.raises(ParamsError, match="'4-poling' is not a section "
                       r"\(did you mean '4-pooling'\?\)"):
        section_params(REPO, resolve(REPO, "4"), profile=profile)


def test_profile_values_are_checked_like_params_files(
        tmp_path: Path) -> None:
    profile = tmp_path / "smoke.yaml"
    profile.write_text("4-pooling: {epochs: 0}\n")
    with pytest.raises(ParamsError, match="key 'epochs' has value 0"):
        section_params(REPO, resolve(REPO, "4"), profile=profile)


def test_parameters_show_as_one_readable_line() -> None:
    line = params.load("3-resources", {"steps": 7})._repr_markdown_()
    assert "`steps`\u00a0=\u00a07\\*" in line  # marked as set
    assert "`base_params`\u00a0=\u00a0$1.0 \\times 10^{8}$" in line
    assert "`base_steps`\u00a0=\u00a0null" in line
    assert "100000000.0" not in line


def test_describe_lists_every_key_with_default_and_range() -> None:
    text = params.describe("5-transposed")
    assert "  sweep_epochs: 15  # epochs of every run of the sweep" in text
    assert "  n_train: null" in text


def test_cli_prints_one_line_without_traceback(tmp_path: Path) -> None:
    root = tmp_path / "book"
    (root / "params").mkdir(parents=True)
    (root / "report").mkdir()
    (root / "_quarto.yml").write_text(
        "book:\n  chapters:\n    - report/4-pooling.qmd\n")
    (root / "report/4-pooling.qmd").write_text("# Pooling\n")
    (root / "params/4-pooling.yaml").write_text("lr: [1]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "a2.pipeline", "--root", str(root), "check"],
        capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: {root}/params/4-pooling.yaml: key 'lr' has value [1]; "
        "valid: a number > 0"]


def test_unknown_section_lists_the_valid_ones() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "a2.pipeline", "--root", str(REPO),
         "execute", "pooling", "--params", "x.yaml"],
        capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0].startswith(
        "error: unknown section 'pooling'; valid sections: 1-optimization,")


def test_repository_params_files_are_valid() -> None:
    """Every committed params file passes, alone and under the profile."""
    for s in notebooks(REPO):
        section_params(REPO, s)
        section_params(REPO, s, profile=REPO / "params/smoke.yaml")
