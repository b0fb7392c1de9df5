"""Bad input gets one clear error before any work starts: the message
names the file (or setting), the key and the valid values; the exit status
is non-zero; there is no traceback; earlier outputs are untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import PY, build_cli, in_process, one_error_line, run, snapshot

# (params file, its text, the error line after 'error: <file>: ')
PARAMS_CASES = {
    "unknown key, with a suggestion": (
        "1-optimization",
        "step: 2\n",
        "unknown key 'step' (did you mean 'steps'?); valid keys for "
        "1-optimization: n, d, instances, batch_size, eta, steps, ",
    ),
    "wrong type": (
        "1-optimization",
        "steps: three\n",
        "key 'steps' has value 'three'; valid: an integer from 1 to 100000",
    ),
    "a YAML true where a number goes": (
        "1-optimization",
        "eta: true\n",
        "key 'eta' has value True; valid: a number > 0",
    ),
    "zero learning rate": (
        "4-pooling",
        "lr: 0\n",
        "key 'lr' has value 0; valid: a number > 0",
    ),
    "negative learning rate": (
        "4-pooling",
        "lr: -0.001\n",
        "key 'lr' has value -0.001; valid: a number > 0",
    ),
    "zero batch size": (
        "4-pooling",
        "batch_size: 0\n",
        "key 'batch_size' has value 0; valid: an integer from 1 to 65536",
    ),
    "negative epochs": (
        "4-pooling",
        "epochs: -1\n",
        "key 'epochs' has value -1; valid: an integer >= 1",
    ),
    "kernel out of range": (
        "4-pooling",
        "kernel: 7\n",
        "key 'kernel' has value 7; valid: 3, 4 or 5 (odd only for "
        "pool_upsample)",
    ),
    "even kernel for a section that trains pool_upsample": (
        "4-pooling",
        "kernel: 4\n",
        "key 'kernel' has value 4; valid: 3 or 5 for section 4-pooling, "
        "which trains pool_upsample (pool_upsample: kernel 4 cannot keep "
        "the size in a stride-1 convolution: 2*padding would have to lie "
        "in [3, 3], so the kernel must be odd)",
    ),
    "a key of another section": (
        "4-pooling",
        "seeds: [0, 1]\n",
        "unknown key 'seeds' (did you mean 'seed'?); valid keys for "
        "4-pooling: kernel, ",
    ),
    "not valid YAML": ("1-optimization", "steps: [1,\n", "not valid YAML"),
    "a billion laughs": (
        "1-optimization",
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n"
            for p, c in zip("abcdefgh", "bcdefghi")
        )
        + "eta: *i\n",
        "line 1: anchors and aliases (&name, *name) are not allowed",
    ),
    "a duplicate key": (
        "1-optimization",
        "steps: 2\neta: 0.1\nsteps: 3\n",
        "line 3: key 'steps' appears twice",
    ),
    "an infinite learning rate": (
        "4-pooling",
        "lr: .inf\n",
        "key 'lr' has value inf, not a finite number; valid: a number > 0",
    ),
    "a learning rate too large for a float": (
        "4-pooling",
        "lr: 1e999\n",
        "key 'lr' has value inf, not a finite",
    ),
    "a batch size beyond any memory": (
        "4-pooling",
        "batch_size: 1000000000\n",
        "key 'batch_size' has value 1000000000; valid: an integer from 1 "
        "to 65536",
    ),
    "base-60 epochs (YAML 1.1 reads 90)": (
        "4-pooling",
        "epochs: 1:30\n",
        "line 1: 1:30 is 90 in YAML 1.1 but '1:30' (text) in YAML 1.2, "
        "which params follow; write 90 or '1:30' so that both read it alike",
    ),
    "a merge key past the duplicate-key check": (
        "4-pooling",
        "epochs: 2\n<<: {epochs: 3}\n",
        "line 2: merge keys (<<) are YAML 1.1 only",
    ),
    "a tag that would build an object": (
        "4-pooling",
        "lr: !!python/object/apply:os.system [echo]\n",
        "line 1: tags (!!python/object/apply:os.system) are not allowed",
    ),
    "a list instead of a mapping": (
        "1-optimization",
        "- steps\n- 2\n",
        "expected a mapping of key: value, got list",
    ),
}


@pytest.mark.parametrize("case", PARAMS_CASES)
def test_bad_params_file_is_one_line_naming_file_key_and_valid_values(
    book: Path, a2_cache: Path, case: str
) -> None:
    stem, text, message = PARAMS_CASES[case]
    params = book / "params" / f"{stem}.yaml"
    params.write_text(text)
    before = snapshot(book / "build", book / "dist")
    proc = build_cli(book, "section", stem)  # validates, then would run
    line = one_error_line(proc)
    assert line.startswith(f"error: {params}: "), line
    assert message in line
    assert "executing" not in proc.stdout + proc.stderr
    assert snapshot(book / "build", book / "dist") == before


def test_even_kernel_is_fine_where_only_transposed_networks_train() -> None:
    """The kernel check knows which networks a section trains: kernel 4
    keeps Figure 4b's shapes, so a section that trains only
    conv_transpose accepts it; one that also trains pool_upsample not."""
    from a2.config import params

    @params.parameter_set
    class OnlyTransposed(params.Pooling):
        stem = "x"
        trains = ("conv_transpose",)

    assert OnlyTransposed.validate({"kernel": 4}, "x.yaml") == {"kernel": 4}
    with pytest.raises(params.ParamsError, match="valid: 3 or 5"):
        params.validate("5-transposed", {"kernel": 4}, "x.yaml")


def test_bad_profile_key_is_named_with_a_suggestion(book: Path) -> None:
    profile = book / "params/smoke.yaml"
    profile.write_text("4-pooling: {n_trian: 8}\n")
    before = snapshot(book / "build", book / "dist")
    line = one_error_line(build_cli(book, "--profile", "smoke", "check"))
    assert line.startswith(
        f"error: {profile}: unknown key 'n_trian' (did you mean 'n_train'?)"
    )
    assert snapshot(book / "build", book / "dist") == before


def test_unknown_section_lists_the_valid_sections(book: Path) -> None:
    before = snapshot(book / "build", book / "dist")
    line = one_error_line(build_cli(book, "section", "pooling"))
    assert line == (
        "error: unknown section 'pooling'; valid sections: "
        "1-optimization, 4-pooling, 6-reproducibility"
    )
    assert snapshot(book / "build", book / "dist") == before


def test_params_file_that_is_a_folder_or_not_utf8_is_one_line(
    book: Path,
) -> None:
    before = snapshot(book / "build", book / "dist")
    line = one_error_line(
        build_cli(book, "section", "1", "--params", str(book / "params"))
    )
    assert line == f"error: {book}/params: is a folder, not a file"
    latin1 = book / "params/1-optimization.yaml"
    latin1.write_bytes(b"# r\xe9sum\xe9\nsteps: 2\n")
    line = one_error_line(build_cli(book, "check"))
    assert line == (
        f"error: {latin1}: not UTF-8 text (byte 0xe9 at "
        f"offset 3); save it as UTF-8"
    )
    assert snapshot(book / "build", book / "dist") == before


def test_missing_params_file_is_named(book: Path) -> None:
    before = snapshot(book / "build", book / "dist")
    line = one_error_line(
        build_cli(book, "section", "1", "--params", str(book / "nope.yaml"))
    )
    assert line == f"error: {book}/nope.yaml: params file not found"
    assert snapshot(book / "build", book / "dist") == before


# --- the data source (A2_DATA) ---------------------------------------------


def _npz(path: Path, horse_npz: Path, **changes) -> Path:
    with np.load(horse_npz) as z:
        arrays = {k: z[k][:50] for k in z.files}
    arrays.update(changes)
    np.savez(path, **arrays)
    return path


def _data_cases(tmp: Path, horse_npz: Path) -> dict[str, tuple[Path, str]]:
    garbage = tmp / "garbage.npz"
    garbage.write_bytes(b"this is not an npz\n" * 10)
    truncated = tmp / "truncated.npz"
    truncated.write_bytes(horse_npz.read_bytes()[:4096])
    with np.load(horse_npz) as z:
        x, y = z["x_train"][:50], z["y_train"][:50]
    return {
        "missing path": (
            tmp / "missing.npz",
            "is neither 'download' nor an existing folder",
        ),
        "garbage": (
            garbage,
            "is not an npz with x_train, y_train, x_test, y_test (ValueError",
        ),
        "truncated": (
            truncated,
            "is not an npz with x_train, y_train, x_test, y_test (BadZipFile",
        ),
        "images the wrong way round": (
            _npz(
                tmp / "hwc.npz",
                horse_npz,
                x_train=np.ascontiguousarray(x.transpose(0, 2, 3, 1)),
            ),
            "x_train must be uint8 (N, 3, 32, 32), got uint8 (50, 32, 32, 3)",
        ),
        "labels not one per image": (
            _npz(tmp / "labels.npz", horse_npz, y_train=y[:10]),
            "y_train must be integer labels of shape (50,), one per image "
            "of x_train, got int64 (10,)",
        ),
        "no horses": (
            _npz(tmp / "cats.npz", horse_npz, y_train=np.full(50, 3)),
            "the data source has no training images of class 7",
        ),
    }


DATA_CASES = [
    "missing path",
    "garbage",
    "truncated",
    "images the wrong way round",
    "labels not one per image",
    "no horses",
]


@pytest.mark.parametrize("case", DATA_CASES)
def test_bad_data_source_is_reported_by_check_before_any_section_runs(
    book: Path,
    tmp_path: Path,
    horse_npz: Path,
    a2_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    """In process (the CLI prints 'error: ' + this message; the garbage
    case below runs the real command line)."""
    from a2.pipeline.__main__ import main
    from a2.pipeline.sections import BuildError

    source, message = _data_cases(tmp_path, horse_npz)[case]
    monkeypatch.setenv("A2_DATA", str(source))
    before = snapshot(book / "build", book / "dist")
    with pytest.raises(BuildError) as err:
        main(
            ["--root", str(book), "--build", str(book / "build/full"), "check"]
        )
    line = str(err.value)
    assert line.startswith(f"A2_DATA={source} (read by 4-pooling): ")
    assert message in line and "\n" not in line, line
    if case != "no horses":  # a bad file: the local options are listed
        assert "cifar-10-batches-py" in line and ".npz" in line
    assert snapshot(book / "build", book / "dist") == before


def test_bad_data_source_on_the_command_line_is_one_line(
    book: Path, tmp_path: Path, horse_npz: Path, a2_cache: Path
) -> None:
    source, message = _data_cases(tmp_path, horse_npz)["garbage"]
    before = snapshot(book / "build", book / "dist")
    proc = build_cli(book, "check", env={"A2_DATA": str(source)})
    line = one_error_line(proc)
    assert line.startswith(f"error: A2_DATA={source} (read by 4-pooling): ")
    assert message in line
    assert snapshot(book / "build", book / "dist") == before


def test_make_pdf_with_bad_data_stops_before_executing_anything(
    book: Path, tmp_path: Path, a2_cache: Path
) -> None:
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"\0" * 100)
    before = snapshot(book / "build/full/exec", book / "dist")
    proc = run(
        [
            "make",
            "--no-print-directory",
            "-f",
            str(Path(__file__).resolve().parents[2] / "Makefile"),
            f"VENV={Path(PY).parents[1]}",
            "SETUP=",
            f"DATA={garbage}",
            "pdf",
        ],
        book,
    )
    line = one_error_line(proc)
    assert line.startswith(f"error: A2_DATA={garbage} (read by 4-pooling)")
    assert "executing" not in proc.stdout + proc.stderr
    assert snapshot(book / "build/full/exec", book / "dist") == before


# --- python -m a2 train ----------------------------------------------------


def _train(args: list[str], cwd: Path) -> object:
    """`python -m a2 train ARGS` in this process: its lines and status."""
    from a2.__main__ import main

    return in_process(main, ["train", *args], cwd)


@pytest.mark.parametrize(
    "shape,message",
    [
        ((24, 4), "has shape (24, 4); expected (K, 3) RGB colours"),
        (
            (10, 3),
            "has 10 colours but num_colours is 24; valid: a palette of "
            "24 colours, or --set num_colours=10",
        ),
    ],
)
def test_train_with_a_palette_of_the_wrong_shape_stops_before_training(
    tmp_path: Path,
    horse_npz: Path,
    a2_cache: Path,
    monkeypatch,
    shape,
    message,
) -> None:
    monkeypatch.setenv("A2_DATA", str(horse_npz))
    palette = tmp_path / "palette.npy"
    colours = np.random.default_rng(0).random(shape).astype(np.float32)
    np.save(palette, colours)
    proc = _train(
        [
            "--set",
            f"palette={palette}",
            "--set",
            "n_train=8",
            "--set",
            "n_valid=8",
        ],
        tmp_path,
    )
    line = one_error_line(proc)
    assert str(palette) in line and message in line, line
    assert proc.returncode == 2
    assert not (a2_cache / "runs").exists()  # no run entry was started


LAUGHS = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi")
    )
    + "lr: *i\n"
)


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["--params", "laughs.yaml"],
            "laughs.yaml: line 1: anchors and "
            "aliases (&name, *name) are not allowed in params",
        ),
        (
            ["--set", "seed=4294967296"],
            "--set: key 'seed' has value "
            "4294967296; valid: an integer from 0 to 4294967295 (2**32 - 1)",
        ),
        (
            ["--set", "lr=.nan"],
            "--set: key 'lr' has value nan, not a finite "
            "number; valid: a number > 0",
        ),
        (
            ["--set", "num_filters=100000"],
            "--set: key 'num_filters' has value "
            "100000; valid: an integer from 1 to 1024",
        ),
        (["--params", "."], ".: is a folder, not a file"),
    ],
    ids=["billion laughs", "seed of 2**32", "nan", "num_filters", "folder"],
)
def test_train_refuses_bad_values_in_one_line_before_any_work(
    tmp_path: Path,
    a2_cache: Path,
    horse_npz: Path,
    args: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "laughs.yaml").write_text(LAUGHS)
    monkeypatch.setenv("A2_DATA", str(horse_npz))
    proc = _train(args, tmp_path)
    assert one_error_line(proc) == f"error: {message}"
    assert proc.returncode == 2
    assert not (a2_cache / "runs").exists()


def test_train_params_file_with_a_typo_names_file_and_suggestion(
    tmp_path: Path, a2_cache: Path
) -> None:
    params = tmp_path / "p.yaml"
    params.write_text("kernal: 3\n")
    line = one_error_line(_train(["--params", str(params)], tmp_path))
    assert line.startswith(
        f"error: {params}: unknown key 'kernal' "
        f"(did you mean 'kernel'?); train takes: model,"
    )
    assert not (a2_cache / "runs").exists()
