"""`make pdf CHECKPOINTS=` with a pack that is no pack: the build stops
before anything executes, with one line, the cache's runs and the
previous outputs as they were."""

from __future__ import annotations

from conftest import build_cli, one_error_line, snapshot


def test_a_refused_pack_is_one_line_and_changes_nothing(
    book, horse_npz, a2_cache, tmp_path
):
    (book / "params/4-pooling.yaml").write_text(
        "n_train: 64\nn_valid: 32\nepochs: 1\nnum_filters: 4\n"
    )
    bad = tmp_path / "a2-checkpoints.tar"
    bad.write_bytes(b"a2-checkpoints/pack.json" + bytes(2000))
    kept = (book / "build/full", book / "dist", a2_cache / "runs")
    before = snapshot(*kept)
    proc = build_cli(
        book, "pdf", env={"CHECKPOINTS": str(bad), "A2_DATA": str(horse_npz)}
    )
    line = one_error_line(proc)
    assert line.startswith(f"error: CHECKPOINTS={bad}: refused, "), line
    assert line.endswith("; nothing imported"), line
    assert proc.returncode == 1
    assert ": executing (" not in proc.stderr
    assert snapshot(*kept) == before
