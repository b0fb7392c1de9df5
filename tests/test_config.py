"""Each section's parameters have one schema (a2.config.params) and are
validated at the edge of the build: a bad file gives one message naming
the file, the key and the valid values; params files are read by a safe
YAML loader (a2.config.files)."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import time
import typing
from pathlib import Path

import pytest

from a2.colour.train import RunConfig
from a2.config import params
from a2.config.files import ParamsError, load_yaml, parse_override, parse_yaml
from a2.pipeline.sections import notebooks, resolve

REPO = Path(__file__).resolve().parents[1]


def error(text: str, section: str = "4", **kw: Path) -> str:
    """The message a params file with ``text`` gives for ``section``."""
    path = kw.pop("path")
    path.write_text(text)
    with pytest.raises(ParamsError) as err:
        params.overrides(resolve(REPO, section).stem, path, **kw)
    return str(err.value)


@pytest.fixture
def yaml_file(tmp_path: Path) -> Path:
    return tmp_path / "p.yaml"


def test_a_run_of_a_section_takes_every_training_setting_it_was_given():
    """Every training key a params file sets reaches the section's runs,
    and nothing else about them changes."""
    changed = dict(kernel=5, num_filters=8, lr=0.01, batch_size=7, epochs=3)
    p = params.load("5-transposed", {**changed, "seed": 9})
    run = p.run("unet")
    assert run == RunConfig(model="unet", seed=9, **changed)
    assert run.replace(model="pool_upsample") == p.run("pool_upsample")


def test_a_key_means_one_thing_within_its_section() -> None:
    """'steps' is SGD steps in section 1 and NQM steps in section 3: each
    with its own default, meaning and range."""
    assert params.load("1-optimization").steps == 3000
    assert params.load("3-resources").steps == 100
    assert "  steps: 3000  # SGD steps; an integer from 1 to 100000" in (
        params.describe("1-optimization").splitlines()
    )
    assert (
        "  steps: 100  # SGD steps in 3.1.1; an integer from 1 to 100000"
        in (params.describe("3-resources").splitlines())
    )


def test_params_file_overrides_the_defaults(yaml_file: Path) -> None:
    yaml_file.write_text("epochs: 2\nlr: 0.5\n")
    assert params.overrides(resolve(REPO, "4").stem, yaml_file) == {
        "epochs": 2,
        "lr": 0.5,
    }
    p = params.load("4-pooling", {"epochs": 2})
    assert p.epochs == 2 and p.changed() == ["epochs"]


def test_unknown_key_is_named_with_a_suggestion(yaml_file: Path) -> None:
    msg = error("epoch: 2\n", path=yaml_file)
    assert msg.startswith(
        f"{yaml_file}: unknown key 'epoch' (did you mean "
        "'epochs'?); valid keys for 4-pooling: kernel, "
    )


def test_key_of_another_section_is_unknown_here(yaml_file: Path) -> None:
    assert "unknown key 'seeds'" in error("seeds: [1]\n", path=yaml_file)


@pytest.mark.parametrize(
    "text,valid",
    [
        ("seeds: [0, 0]\n", "no two equal"),
        ("seeds: [3, 1, 3]\n", "no two equal"),
        ("batch_sizes: [64, 64]\n", "each larger than the last"),
        ("batch_sizes: [128, 64]\n", "each larger than the last"),
    ],
)
def test_repeated_seeds_and_batch_sizes_are_refused(
    yaml_file: Path, text: str, valid: str
) -> None:
    """A repeated seed would be averaged as if it were another; a batch
    size compared with itself, or out of order, makes 5.5's words about
    growing batches wrong."""
    msg = error(text, "5", path=yaml_file)
    key, value = text.strip().split(": ")
    assert msg.startswith(
        f"{yaml_file}: key '{key}' has value {value}; valid: a list of "
    )
    assert msg.endswith(valid) and "\n" not in msg


def test_wrong_type_names_the_valid_values(yaml_file: Path) -> None:
    assert error("epochs: three\n", path=yaml_file).endswith(
        "key 'epochs' has value 'three'; valid: an integer >= 1"
    )


def test_yaml_true_is_not_a_number(yaml_file: Path) -> None:
    assert "has value True" in error("lr: true\n", path=yaml_file)


def test_out_of_range_names_the_valid_values(yaml_file: Path) -> None:
    assert error("lr: -1\n", path=yaml_file).endswith(
        "key 'lr' has value -1; valid: a number > 0"
    )


def test_section_keys_have_their_own_ranges(yaml_file: Path) -> None:
    assert error("beta: 1\n", "1", path=yaml_file).endswith(
        "key 'beta' has value 1; valid: a number in [0, 1)"
    )
    assert error("seed: 4294967296\n", "1", path=yaml_file).endswith(
        "valid: an integer from 0 to 4294967295 (2**32 - 1)"
    )


def test_even_kernel_is_refused_where_pool_upsample_trains(
    yaml_file: Path,
) -> None:
    msg = error("kernel: 4\n", "4", path=yaml_file)
    assert (
        "key 'kernel' has value 4; valid: 3 or 5 for section "
        "4-pooling, which trains pool_upsample" in msg
    )


def test_missing_params_file_given_explicitly() -> None:
    with pytest.raises(ParamsError, match="nope.yaml: params file not found"):
        params.overrides(resolve(REPO, "1").stem, REPO / "nope.yaml")


def test_profile_entries_apply_to_their_section_only(tmp_path: Path) -> None:
    profile = tmp_path / "smoke.yaml"
    profile.write_text("4-pooling: {epochs: 1}\n1-optimization: {steps: 9}\n")
    assert params.overrides(resolve(REPO, "4").stem, profile=profile) == {
        "epochs": 1
    }
    assert params.overrides(resolve(REPO, "1").stem, profile=profile) == {
        "steps": 9
    }
    assert params.overrides(resolve(REPO, "2").stem, profile=profile) == {}


def test_profile_key_that_is_no_section_is_an_error(tmp_path: Path) -> None:
    profile = tmp_path / "smoke.yaml"
    profile.write_text("4-poling: {epochs: 1}\n")
    with pytest.raises(
        ParamsError,
        match="'4-poling' is not a section "
        r"\(did you mean '4-pooling'\?\)",
    ):
        params.overrides(resolve(REPO, "4").stem, profile=profile)


def test_profile_values_are_checked_like_params_files(tmp_path: Path) -> None:
    profile = tmp_path / "smoke.yaml"
    profile.write_text("4-pooling: {epochs: 0}\n")
    with pytest.raises(ParamsError, match="key 'epochs' has value 0"):
        params.overrides(resolve(REPO, "4").stem, profile=profile)


def test_parameters_show_as_one_readable_line() -> None:
    line = params.load("3-resources", {"steps": 7})._repr_markdown_()
    assert "`steps`\u00a0=\u00a07\\*" in line  # marked as set
    assert "`base_params`\u00a0=\u00a0$1.0 \\times 10^{8}$" in line
    # a null reads as what it means, as a person would write it
    assert "`base_steps`\u00a0=\u00a0the compute-efficient length" in line
    assert "null" not in line and "100000000.0" not in line
    shown = params.load("4-pooling", {"n_valid": 9})._repr_markdown_()
    assert "`n_train`\u00a0=\u00a0all," in shown
    assert "`n_valid`\u00a0=\u00a09\\*" in shown


def test_a_section_without_parameters_shows_no_parameters_line() -> None:
    assert params.load("6-reproducibility")._repr_markdown_() == ""


def test_describe_lists_every_key_with_default_and_range() -> None:
    text = params.describe("5-transposed")
    assert "  sweep_epochs: 15  # epochs of every run of the sweep" in text
    assert "  n_train: null" in text


def test_cli_prints_one_line_without_traceback(tmp_path: Path) -> None:
    root = tmp_path / "book"
    (root / "params").mkdir(parents=True)
    (root / "report").mkdir()
    (root / "_quarto.yml").write_text(
        "book:\n  chapters:\n    - report/4-pooling.qmd\n"
    )
    (root / "report/4-pooling.qmd").write_text("# Pooling\n")
    (root / "params/4-pooling.yaml").write_text("lr: [1]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "a2.pipeline", "--root", str(root), "check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: {root}/params/4-pooling.yaml: key 'lr' has value [1]; "
        "valid: a number > 0"
    ]


def test_unknown_section_lists_the_valid_ones() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "a2.pipeline",
            "--root",
            str(REPO),
            "section",
            "pooling",
            "--params",
            "x.yaml",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0].startswith(
        "error: unknown section 'pooling'; valid sections: 1-optimization,"
    )


def test_repository_params_files_are_valid() -> None:
    """Every committed params file passes, alone and under the profile."""
    for s in notebooks(REPO):
        params.overrides(s.stem)
        params.overrides(s.stem, profile=REPO / "params/smoke.yaml")


# --- the YAML a params file may hold ----------------------------------------

LAUGHS = (
    "\n".join(
        ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        + [
            f"{chr(98 + i)}: &{chr(98 + i)} ["
            + ", ".join([f"*{chr(97 + i)}"] * 9)
            + "]"
            for i in range(8)
        ]
        + ["lr: *i"]
    )
    + "\n"
)


def load_error(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "p.yaml"
    if isinstance(text, str):
        path.write_text(text)
    else:
        path.write_bytes(text)
    with pytest.raises(ParamsError) as err:
        load_yaml(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


@pytest.mark.parametrize(
    "text,value",
    [
        ("1e-3", 0.001),
        ("1E-3", 0.001),
        ("5e2", 500.0),
        ("-2.5e-4", -2.5e-4),
        ("1.0e3", 1000.0),
        ("+1e+2", 100.0),
        ("0.5", 0.5),
        (".5", 0.5),
        ("3", 3),
        ("-0", 0),
        ("0o17", 15),  # YAML 1.2's octal; YAML 1.1 reads text
        ("0x1F", 31),
        ("08", 8),  # not octal in either
    ],
)
def test_numbers_are_read_in_the_notation_people_write(text, value):
    got = parse_yaml(f"lr: {text}")["lr"]
    assert got == value and type(got) is type(value)
    assert parse_override(f"lr={text}") == ("lr", value)


@pytest.mark.parametrize(
    "text", ['"1e-3"', "'0.001'", "1e-3x", "e5", "1e", "0x1p-3"]
)
def test_strings_are_not_taken_for_numbers(text):
    value = parse_yaml(f"lr: {text}")["lr"]
    assert isinstance(value, str)
    with pytest.raises(ParamsError, match="valid: a number > 0"):
        check("lr", value)


SETS = [params.TrainCommand, *params.SCHEMAS.values()]


def check(key: str, value, where: str = "") -> object:
    """``value`` checked as ``key`` of the first set of parameters (the
    training command's, then the sections') that has it."""
    owner = next(s for s in SETS if key in s.names())
    return owner.check(key, value, where)


FLOAT_KEYS = sorted(
    {
        name
        for s in SETS
        for name, tp in typing.get_type_hints(s).items()
        if tp is float
    }
)


@pytest.mark.parametrize("key", FLOAT_KEYS)
@pytest.mark.parametrize(
    "text", [".inf", "-.inf", ".nan", "1e999", "1" + "0" * 400]
)
def test_every_float_key_refuses_non_finite_numbers(key, text):
    value = parse_yaml(f"x: {text}")["x"]
    with pytest.raises(ParamsError) as err:
        check(key, value, "p.yaml")
    assert "not a finite number" in str(err.value)
    assert len(str(err.value)) < 200


@pytest.mark.parametrize(
    "key,lo,hi",
    [
        ("seed", 0, 2**32 - 1),
        ("num_filters", 1, 1024),
        ("num_colours", 2, 256),
        ("batch_size", 1, 65536),
        ("n_train", 1, 10**6),
        ("n_valid", 1, 10**6),
        ("n_samples", 1, 64),
        ("n", 1, 10_000),
        ("d", 1, 10_000),
        ("steps", 1, 100_000),
        ("adaptive_steps", 1, 100_000),
        ("instances", 1, 1000),
        ("trials", 1, 1000),
        ("grid_points", 2, 10**6),
        ("base_steps", 1, 10**12),
    ],
)
def test_sizes_and_seeds_are_bounded(key, lo, hi):
    assert check(key, lo) == lo
    assert check(key, hi) == hi
    for bad in (lo - 1, hi + 1, 10**30):
        with pytest.raises(ParamsError, match=f"key '{key}' has value"):
            check(key, bad)


@pytest.mark.parametrize(
    "key,good,bad",
    [
        ("seeds", [0, 2**32 - 1], [0, 2**32]),
        ("seeds", list(range(32)), list(range(33))),
        ("batch_sizes", [1, 65536], [64, 65537]),
        ("batch_sizes", [64], []),
    ],
)
def test_lists_of_sizes_and_seeds_are_bounded(key, good, bad):
    assert check(key, good) == good
    with pytest.raises(ParamsError, match="a list of 1 to 32 integers"):
        check(key, bad)


def test_a_seed_that_fits_no_generator_stops_the_run_config():
    from a2.colour.train import RunConfig

    with pytest.raises(ParamsError, match="2\\*\\*32 - 1"):
        RunConfig(seed=2**32)


@pytest.mark.parametrize(
    "text",
    [
        LAUGHS,
        "a: &x 1\n",
        "a: &x 1\nb: *x\n",
        "base: &b {lr: 1}\nother:\n  <<: *b\n",
        "seeds: [&s 1, *s]\n",
    ],
)
def test_anchors_and_aliases_are_refused_fast(tmp_path, text):
    start = time.monotonic()
    message = load_error(tmp_path, text)
    assert time.monotonic() - start < 1.0
    assert "anchors and aliases (&name, *name) are not allowed" in message


def test_an_alias_in_a_set_value_is_refused():
    with pytest.raises(
        ParamsError,
        match="^--set 'seeds=\\[&s 1, \\*s\\]'"
        ": value line 1: anchors and aliases",
    ):
        parse_override("seeds=[&s 1, *s]")


def test_deep_nesting_is_refused_fast(tmp_path):
    start = time.monotonic()
    message = load_error(tmp_path, "lr: " + "[" * 30_000 + "]" * 30_000)
    assert time.monotonic() - start < 1.0
    assert "nested deeper than" in message


@pytest.mark.parametrize(
    "text",
    [
        "lr: [" + ", ".join(["1"] * 5000) + "]\n",
        "lr: [[[[[[1]]]]]]\n",
        "model: " + "x" * 20_000 + "\n",
        "lr: {" + ", ".join(f"k{i}: {i}" for i in range(3000)) + "}\n",
        "lr: '" + "\\u00e9" * 5000 + "'\n",
    ],
)
def test_a_huge_value_is_cut_short_in_the_message(tmp_path, text):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    raw = load_yaml(path)
    key, value = next(iter(raw.items()))
    with pytest.raises(ParamsError) as err:
        check(key, value, str(path))
    message = str(err.value)
    assert len(message) < len(str(path)) + 250 and "\n" not in message
    assert "..." in message


def test_a_huge_unknown_key_is_cut_short(tmp_path):
    with pytest.raises(ParamsError) as err:
        params.validate("4-pooling", {"k" * 10_000: 1}, "p.yaml")
    assert len(str(err.value)) < 300


def test_a_duplicate_key_is_named(tmp_path):
    message = load_error(tmp_path, "lr: 0.1\nepochs: 2\nlr: 0.2\n")
    assert message.endswith("line 3: key 'lr' appears twice")
    nested = load_error(tmp_path, "x: {a: 1, a: 2}\n")
    assert "key 'a' appears twice" in nested


def test_a_file_that_is_not_utf8_is_one_line(tmp_path):
    message = load_error(tmp_path, b"lr: 0.1\nmodel: caf\xe9\n")
    assert message.endswith(
        "not UTF-8 text (byte 0xe9 at offset 18); save it as UTF-8"
    )


def test_a_folder_is_not_a_params_file(tmp_path):
    with pytest.raises(ParamsError) as err:
        load_yaml(tmp_path)
    assert str(err.value) == f"{tmp_path}: is a folder, not a file"


def test_an_oversized_file_is_refused(tmp_path):
    message = load_error(tmp_path, "# padding\n" * 10_000 + "lr: 1\n")
    assert "more than the 65,536" in message


@pytest.mark.parametrize(
    "text",
    ["lr: " + "9" * 5000, "lr: [1,\n", "? [1, 2]\n: 3\n", "a: 1\n---\nb: 2\n"],
)
def test_bad_yaml_is_one_line(tmp_path, text):
    assert "not valid YAML (" in load_error(tmp_path, text)


# YAML 1.1 (PyYAML, many editors' and tools' reading) and YAML 1.2 (the
# reading of params) differ on these plain values: each is refused, with
# both readings and a way to write it that both read alike.
DISAGREE = {
    "base 60 (the issue's case)": (
        "epochs: 1:30",
        "1:30 is 90 in YAML 1.1 but '1:30' (text) in YAML 1.2, which "
        "params follow; write 90 or '1:30' so that both read it alike",
    ),
    "a base-60 float": ("lr: 1:30.5", "1:30.5 is 90.5 in YAML 1.1"),
    "yes": ("shuffle: yes", "yes is true in YAML 1.1 but 'yes' (text)"),
    "No": ("shuffle: No", "No is false in YAML 1.1 but 'No' (text)"),
    "on": ("shuffle: on", "on is true in YAML 1.1"),
    "OFF": ("shuffle: OFF", "OFF is false in YAML 1.1"),
    "octal": ("epochs: 012", "012 is 10 in YAML 1.1 but 12 in YAML 1.2"),
    "negative octal": ("seed: -010", "-010 is -8 in YAML 1.1 but -10"),
    "underscores": ("steps: 1_000", "1_000 is 1000 in YAML 1.1"),
    "underscores in a float": ("lr: 0.000_1", "0.000_1 is 0.0001 in"),
    "binary": ("seed: 0b101", "0b101 is 5 in YAML 1.1"),
    "a hex with underscores": ("seed: 0x_1F", "0x_1F is 31 in YAML 1.1"),
    "a date": (
        "palette: 2024-01-01",
        "2024-01-01 is a date in YAML 1.1 but '2024-01-01' (text) in YAML "
        "1.2, which params follow; write '2024-01-01' so that both",
    ),
    "a time": ("palette: 2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z is a"),
    "in a list": ("seeds: [1, 0b10]", "0b10 is 2 in YAML 1.1"),
    "a key": ("yes: 1", "yes is true in YAML 1.1"),
}


@pytest.mark.parametrize("case", DISAGREE)
def test_values_yaml_1_1_reads_otherwise_are_refused(tmp_path, case):
    text, expected = DISAGREE[case]
    assert f": line 2: {expected}" in load_error(
        tmp_path, f"lr: 0.1\n{text}\n"
    )
    scalar = expected.partition(" is ")[0]
    with pytest.raises(ParamsError, match="value line 1: .* in YAML 1.1"):
        parse_override(f"x={scalar}")


@pytest.mark.parametrize(
    "text,value",
    [
        ("'1:30'", "1:30"),  # quoted: text in both
        ('"yes"', "yes"),
        ("y", "y"),  # PyYAML reads y and n as text too
        ("07", 7),  # the same number in both
        ("00", 0),
        ("=", "="),
        ("~", None),
        ("", None),
        ("TRUE", True),
        ("-.Inf", -math.inf),
    ],
)
def test_values_both_read_alike_are_kept(text, value):
    got = parse_yaml(f"x: {text}")["x"]
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            "base: 1\n<<: {lr: 0.5}\n",
            "line 2: merge keys (<<) are YAML 1.1 only; params are read as "
            "YAML 1.2: write each key out",
        ),
        ("4-pooling:\n  <<: {lr: 0.5}\n", "line 2: merge keys (<<)"),
        (
            "lr: !!python/object:os.system x\n",
            "line 1: tags (!!python/object:os.system) are not allowed in "
            "params; write the plain value",
        ),
        ("seeds: !!set {1, 2}\n", "tags (!!set)"),
        ("lr: !!float 1\n", "tags (!!float)"),
        ("model: !!str unet\n", "tags (!!str)"),
        ("palette: !!binary aGk=\n", "tags (!!binary)"),
        ("lr: !custom 1\n", "tags (!custom)"),
        ("lr: ! 1\n", "tags (!)"),
        (
            "%YAML 1.1\n---\nlr: 1\n",
            "line 1: %YAML 1.1: params are read as YAML 1.2; remove the line",
        ),
    ],
)
def test_merge_keys_tags_and_yaml_1_1_are_refused(tmp_path, text, expected):
    assert f": {expected}" in load_error(tmp_path, text)


def test_a_yaml_1_2_directive_is_read() -> None:
    assert parse_yaml("%YAML 1.2\n---\nlr: 1e-3\n") == {"lr": 0.001}


def test_base_60_epochs_never_reach_a_section(yaml_file: Path) -> None:
    """The issue's case: 'epochs: 1:30' trained 90-epoch runs."""
    message = error("epochs: 1:30\n", path=yaml_file)
    assert message.startswith(f"{yaml_file}: line 1: 1:30 is 90 in YAML")


def test_scientific_notation_reaches_the_section(yaml_file: Path) -> None:
    yaml_file.write_text("lr: 5E-1\n")
    assert params.overrides(resolve(REPO, "4").stem, yaml_file)["lr"] == 0.5


def test_finite_values_are_kept():
    assert check("lr", 1) == 1.0
    assert math.isfinite(check("eps", 1e300))


# --- the schemas: pydantic checks, the words come from the same bounds ------


def test_the_valid_values_shown_are_the_values_checked():
    """Each key's valid values are written from its type and bounds, so
    the words and the check cannot drift apart: the ends of every range
    shown pass, one past them fails, every choice shown passes."""
    tried = 0
    for s in SETS:
        for name, info in s.__pydantic_fields__.items():
            words = params.valid_values(info)
            if m := re.search(r"an integer from (\d+) to (\d+)", words):
                lo, hi = int(m[1]), int(m[2])
                good, bad = [lo, hi], [lo - 1, hi + 1]
            elif m := re.search(r"an integer >= (\d+)", words):
                good, bad = [int(m[1]), 10**9], [int(m[1]) - 1]
            elif m := re.fullmatch(r"([\w, ]+ or \w+)( \(.*\))?", words):
                good = re.split(r", | or ", m[1])
                good = [int(g) if g.isdigit() else g for g in good]
                bad = ["none of these", 99]
            else:
                continue
            if words.startswith("a list"):
                good, bad = [[g] for g in good], [[b] for b in bad]
            for value in good:
                assert s.check(name, value) == value, (s, name, value)
            for value in bad:
                with pytest.raises(ParamsError, match=re.escape(words)):
                    s.check(name, value)
            tried += 1
    assert tried >= 40


@pytest.mark.parametrize(
    "key,value",
    [
        ("epochs", "3"),  # text is no number
        ("epochs", 3.0),  # a float is no integer
        ("epochs", True),
        ("lr", False),
        ("lr", "0.1"),
        ("model", 1),
        ("seeds", "012"),
        ("seeds", [1, "2"]),
        ("seeds", {"a": 1}),
        ("n_train", [5]),
    ],
)
def test_a_value_of_another_type_is_refused(key, value):
    with pytest.raises(ParamsError, match=f"^key '{key}' has value"):
        check(key, value)


def test_an_integer_for_a_number_becomes_a_float():
    """1 and 1.0 are the same learning rate and the same cache key."""
    got = params.load("4-pooling", {"lr": 1}).run("unet")
    assert type(got.lr) is float
    assert got == params.load("4-pooling", {"lr": 1.0}).run("unet")


def test_a_run_config_is_a_checked_frozen_dataclass():
    """What the library relies on: dataclass fields, replace (which
    checks again), equality, hashing and pickling (worker processes)."""
    import dataclasses
    import pickle

    run = RunConfig(model="unet", seed=3)
    assert [f.name for f in dataclasses.fields(run)][:2] == ["model", "kernel"]
    assert run == RunConfig(model="unet", seed=3)
    assert len({run, RunConfig(model="unet", seed=3)}) == 1
    assert pickle.loads(pickle.dumps(run)) == run
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.seed = 4  # type: ignore[misc]
    with pytest.raises(ParamsError, match="^key 'epochs' has value 0;"):
        run.replace(epochs=0)
    with pytest.raises(ParamsError, match="valid: 3 or 5 for model"):
        run.replace(model="pool_upsample", kernel=4)
    with pytest.raises(
        ParamsError, match=r"^unknown key 'epoch' \(did you mean 'epochs'"
    ):
        RunConfig(epoch=3)


def test_a_key_that_is_not_text_is_unknown():
    with pytest.raises(ParamsError, match="^p.yaml: unknown key 1; valid"):
        params.validate("4-pooling", {1: 2}, "p.yaml")


def test_the_first_bad_key_in_the_schemas_order_is_named():
    with pytest.raises(ParamsError, match="^p.yaml: key 'kernel'"):
        params.validate("4-pooling", {"lr": -1, "kernel": 7}, "p.yaml")
