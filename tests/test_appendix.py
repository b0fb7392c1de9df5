"""The appendix's tables: no local path printed in full, every check and
run listed."""

from __future__ import annotations

import re
from pathlib import Path

from a2.report import appendix, table_markdown


def shown(rows: list[tuple]) -> list[tuple]:
    """Cells as a reader sees them: text from the records is escaped
    (a2.text.code), so every backslash escape is undone here."""
    return [
        tuple(
            re.sub(r"\\(.)", r"\1", c) if isinstance(c, str) else c for c in r
        )
        for r in rows
    ]


def test_paths_inside_the_repository_are_relative(tmp_path: Path):
    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    assert (
        appendix.shown_path(str(root / "data" / "x.npz"), root) == "data/x.npz"
    )


def test_paths_outside_the_repository_show_the_name_only(tmp_path: Path):
    root = tmp_path / "repo"
    root.mkdir()
    shown = appendix.shown_path("/somewhere/else/cifar10-horse.npz", root)
    assert shown == "cifar10-horse.npz"
    assert "/" not in appendix.data_setting(
        "/somewhere/else/cifar10-horse.npz", root
    ).strip("`")


def test_data_rows_name_the_setting_and_the_checksum(tmp_path: Path):
    rows = appendix.data_rows("download", "md5:abc123", tmp_path)
    assert rows[0][1].startswith("`download`")
    assert rows[1] == ("checksum (md5)", "`abc123`")
    digest = "0123456789abcdef" * 4
    (_, (_, shown)) = appendix.data_rows("x.npz", "sha256:" + digest, tmp_path)
    assert shown.replace("`", "").replace(" ", "") == digest
    assert shown.count(" ") == 3


def test_section_rows_count_runs_and_passed_checks():
    records = {
        "4-pooling": {
            "notebook": "report/4-pooling.qmd",
            "params": ["params/4-pooling.yaml", "/abs/elsewhere/smoke.yaml"],
            "commit": "abc1234",
            "executed": "2026-01-01 10:00 UTC",
            "runs": ["k1"],
            "checks": [{"passed": True}, {"passed": True}],
        }
    }
    (row,) = shown(appendix.section_rows(records))
    assert row == (
        "4-pooling",
        "`4-pooling.yaml`, `smoke.yaml`",
        "`abc1234`",
        "2026-01-01 10:00",
        1,
        "2 of 2",
    )
    assert len(row) == len(appendix.SECTIONS_HEADER)


def test_run_rows_give_settings_and_final_metrics():
    manifest = {
        "key": "k1",
        "config": {
            "model": "conv_transpose",
            "kernel": 3,
            "num_filters": 32,
            "lr": 0.001,
            "batch_size": 100,
            "epochs": 25,
            "seed": 0,
        },
        "meta": {
            "data": {"n_train": 5000, "n_valid": 1000},
            "devices": ["cpu"],
            "train_seconds": 80.0,
        },
        "final": {"valid_loss": 1.1291, "valid_acc": 55.17},
    }
    (row,) = appendix.run_rows([manifest])
    assert row[:8] == (
        "ConvTransposeNet `k1`",
        "3",
        "32",
        "0.001",
        "100",
        "25",
        "0",
        "5,000 / 1,000",
    )
    assert row[-2:] == (1.1291, 55.17)
    text = table_markdown([row], appendix.RUNS_HEADER, appendix.RUNS_DIGITS)
    assert "55.17" in text and "1.1291" in text


def test_check_rows_list_every_check():
    record = {
        "checks": [
            {
                "name": "a",
                "quantity": "max |diff| 1.0e-16",
                "tolerance": "rtol 1e-06",
                "passed": True,
            },
            {"name": "b", "quantity": "", "tolerance": "", "passed": True},
        ]
    }
    rows = shown(appendix.check_rows(record))
    assert rows == [("a", "1.0e-16 (rtol 1e-06)"), ("b", "holds")]
    failed = {
        "checks": [
            {
                "name": "c",
                "quantity": "max |diff| 2",
                "tolerance": "exact",
                "passed": False,
            }
        ]
    }
    assert shown(appendix.check_rows(failed)) == [("c", "2 (exact): FAILED")]
    assert appendix.check_rows({}) == []


def test_environment_rows_name_versions_and_device():
    rows = dict(appendix.environment_rows())
    assert set(rows) == {
        "Python",
        "PyTorch",
        "NumPy",
        "device",
    }


def test_every_check_is_one_row_and_a_failed_one_says_so():
    record = {
        "checks": [
            {
                "name": "a",
                "quantity": "max |diff| 1.0e-09",
                "tolerance": "atol 1e-08",
                "passed": True,
            },
            {"name": "b", "quantity": "", "tolerance": "", "passed": True},
            {
                "name": "c",
                "quantity": "max |diff| 2.0e+00",
                "tolerance": "atol 1e-08",
                "passed": False,
            },
        ]
    }
    assert shown(appendix.check_rows(record)) == [
        ("a", "1.0e-09 (atol 1e-08)"),
        ("b", "holds"),
        ("c", "2.0e+00 (atol 1e-08): FAILED"),
    ]
    assert appendix.check_rows({}) == []


def test_a_check_row_shows_its_difference_in_the_unit_of_its_tolerance(
    monkeypatch,
):
    """Rows from records that a2.report.check makes: a relative
    tolerance beside a relative difference, an absolute one beside an
    absolute difference (never "5.0e+00 (rtol 2e-02)")."""
    from a2 import report
    from a2.report import checking, provenance

    noted: list[dict] = []
    monkeypatch.setattr(provenance, "note_check", noted.append)
    monkeypatch.setattr(checking, "_pending", [])
    report.check("steps", 533.0, 528.0, rtol=0.02)
    report.check("slope", -1.0, -0.98, atol=0.1)
    report.check("count", 7, 7, rtol=0)
    assert shown(appendix.check_rows({"checks": noted})) == [
        ("steps", "rel. diff 9.5e-03 (rtol 2e-02)"),
        ("slope", "|diff| 2.0e-02 (atol 1e-01)"),
        ("count", "|diff| 0 (exact)"),
    ]


def test_origin_rows_say_where_each_run_was_trained_and_if_from_a_pack():
    gpu = {"device": "NVIDIA H100 80GB HBM3", "torch": "2.14.1+cu126"}
    here = {
        "key": "k1",
        "config": {"model": "unet"},
        "meta": {
            "trained_on": [{"device": "CPU, 1 thread", "torch": "2.14.1"}]
        },
    }
    packed = {
        "key": "k2",
        "config": {"model": "conv_transpose"},
        "meta": {"trained_on": [gpu], "pack": "a2-checkpoints.tar"},
    }
    older = {  # stored before devices were recorded by name
        "key": "k3",
        "config": {"model": "unet"},
        "meta": {"devices": ["cpu"], "torch": "2.13.0"},
    }
    rows = shown(appendix.origin_rows([here, packed, older]))
    assert rows == [
        ("UNet `k1`", "CPU, 1 thread", "2.14.1", "this machine's cache"),
        (
            "ConvTransposeNet `k2`",
            "NVIDIA H100 80GB HBM3",
            "2.14.1+cu126",
            "pack `a2-checkpoints.tar`",
        ),
        ("UNet `k3`", "CPU", "2.13.0", "this machine's cache"),
    ]
    assert all(len(r) == len(appendix.ORIGINS_HEADER) for r in rows)
    # The title page: nothing for CPU runs of this cache, else one clause.
    assert appendix.origin_note([here, older]) == ""
    assert shown([(appendix.origin_note([here, packed]),)]) == [
        (
            "; 1 of its 2 trained networks was trained on NVIDIA H100 "
            "80GB HBM3 and came from a checkpoint pack",
        )
    ]
    assert shown([(appendix.origin_note([packed, packed]),)]) == [
        (
            "; its 2 trained networks were trained on NVIDIA H100 80GB "
            "HBM3 and came from a checkpoint pack",
        )
    ]
    cpu_pack = {**here, "meta": {**here["meta"], "pack": "p.tar"}}
    assert shown(
        [(appendix.origin_note([cpu_pack, {**packed, "key": "k4"}, older]),)]
    )[0][0] == (
        "; 1 of its 3 trained networks was trained on NVIDIA H100 80GB "
        "HBM3, and 2 of its 3 trained networks were imported from a "
        "checkpoint pack"
    )
    assert appendix.origin_note([cpu_pack]) == (
        "; its 1 trained network was imported from a checkpoint pack"
    )
    hostile = {**packed, "meta": {"trained_on": [{"device": "<b>$x$@r"}]}}
    assert "<b>" not in appendix.origin_note([hostile])
