"""The GPU path, measured: 25 epochs of each network at batch 100 with the
data on the device, eager and with CUDA graphs, and the final metrics
against CPU runs of the same configs.

Target (issue 14): ConvTransposeNet trains 25 epochs in 2 s or less,
with no host sync per step; GPU metrics agree with CPU ones within the
seed-to-seed spread. Run through ``bench/gpu_check.sh`` (under 8 min on
an H100/H200-class GPU with 16 CPU cores).

What it does:

1. starts CPU reference runs (seed 0 of each network, the handout's
   defaults) in worker processes (``a2.colour.schedule.train_many``) into a
   scratch cache, so that they overlap the GPU timings;
2. checks that a training step queues no host sync
   (``torch.cuda.set_sync_debug_mode("error")`` around steps);
3. times ``Trainer.fit`` for 25 epochs per network (CUDA synchronised
   before reading the clock; training and validation apart), eager and
   with ``graphs=True``, after one untimed warm-up epoch per network;
4. trains seeds 1 and 2 on the GPU for the seed-to-seed spread;
5. prints one table. A network "agrees" when |GPU - CPU| of the final
   validation loss is within twice the GPU's standard deviation over
   seeds 0-2.

Without CUDA (``--tiny``, for checking the script itself) everything
runs on the CPU at a tiny size.

``--compare PACK --cpu-cache DIR`` (issue 26, after the pack came back):
per run of the pack, its training time and final validation loss and
accuracy against the same run's in a CPU cache (the keys leave the
device out, so they match), and the differences.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import sys
import threading
import time

import torch

from a2.colour import cache, schedule, train
from a2.colour import data as a2_data
from a2.colour.train import RunConfig, Trainer

NAMES = {
    "pool_upsample": "PoolUpsampleNet",
    "conv_transpose": "ConvTransposeNet",
    "unet": "UNet",
}


def fit_seconds(
    config: RunConfig, d: a2_data.ColourData, graphs: bool
) -> tuple[float, float, Trainer]:
    """(wall seconds of fit, of which training, trainer) for a run."""
    trainer = Trainer(config, d, graphs=graphs)
    train._sync(trainer.device)
    start = time.perf_counter()
    trainer.fit(log=None)
    train._sync(trainer.device)
    wall = time.perf_counter() - start
    return wall, sum(r.train_s for r in trainer.history), trainer


def no_sync_per_step(
    config: RunConfig, d: a2_data.ColourData, graphs: bool
) -> str:
    """'yes' when steady-state training steps (eager, or captured graph
    replays) run under sync debug mode 'error' without raising. The first
    steps (lazy initialisation, the graph's warm-up and capture, which
    synchronises once) run before the mode is set."""
    if not torch.cuda.is_available():
        return "n/a"
    trainer = Trainer(config, d, graphs=graphs)
    bs = config.batch_size
    order = torch.cat([trainer._permutation()] * 14)  # enough batches
    step = trainer._graph if graphs else trainer.step
    total = torch.zeros((), dtype=torch.float64, device=trainer.device)
    for s in range(0, 6 * bs, bs):  # past the graph's capture
        total += step(order[s : s + bs])
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for s in range(6 * bs, 14 * bs, bs):
            total += step(order[s : s + bs])
    except RuntimeError as err:
        print(
            f"  {config.model} (graphs={graphs}) synced in a step: "
            f"{str(err).splitlines()[0]}",
            flush=True,
        )
        return "NO"
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()
    return "yes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="a tiny size, to check the script (CPU too)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=420,
        help="seconds; later parts are skipped past it",
    )
    parser.add_argument("--compare", metavar="PACK", help="a checkpoint pack")
    parser.add_argument("--cpu-cache", default=".cache")
    args = parser.parse_args()
    if args.compare:
        compare(args.compare, args.cpu_cache)
        return
    t0 = time.perf_counter()
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    if args.tiny:
        sizes = dict(n_train=256, n_valid=64)
        base = dict(num_filters=8, epochs=2, batch_size=64)
    else:
        sizes, base = {}, dict(epochs=25, batch_size=100)
    name = torch.cuda.get_device_name() if cuda else "no CUDA: CPU"
    print(
        f"device: {name}; torch {torch.__version__}; {os.cpu_count()} CPUs",
        flush=True,
    )
    d = a2_data.load(**sizes)
    print(
        f"data: {len(d.train_grey)} training, {len(d.valid_grey)} "
        f"validation images ({d.identity['source']})",
        flush=True,
    )

    # 1. CPU references, in the background (they share nothing with the
    # GPU runs but the CPU cores; a scratch cache, see gpu_check.sh).
    cpu_configs = [RunConfig(model=m, device="cpu", **base) for m in NAMES]
    cpu_done: dict[str, float] = {}
    d_cpu = copy.deepcopy(d)  # sent to workers (moved to shared memory)

    def cpu_refs() -> None:
        # Results read from the manifests: building a Trainer here would
        # reseed the global RNGs under the GPU runs' feet.
        out = schedule.train_many(
            cpu_configs,
            d_cpu,
            workers=len(cpu_configs),
            threads=max(1, min(4, (os.cpu_count() or 4) // 4)),
            log=None,
        )
        for o in out:
            if o.status in ("trained", "cached"):
                path = cache.runs_dir() / o.key / cache.MANIFEST
                final = json.loads(path.read_text())["final"]
                cpu_done[o.config.model] = final["valid_loss"]
                cpu_done[o.config.model + ":acc"] = final["valid_acc"]

    bg = threading.Thread(target=cpu_refs, daemon=True)
    bg.start()

    rows = []
    for model in NAMES:
        c = RunConfig(model=model, device=device, **base)
        Trainer(c.replace(epochs=1), d).fit(log=None)  # warm-up
        row = {
            "model": model,
            "sync": "/".join(  # eager/graphs
                no_sync_per_step(c, d, graphs=g) for g in (False, True)
            ),
        }
        row["eager"] = fit_seconds(c, d, graphs=False)
        row["graphs"] = fit_seconds(c, d, graphs=cuda)
        rows.append(row)
        print(
            f"  {NAMES[model]}: eager {row['eager'][0]:.2f} s, graphs "
            f"{row['graphs'][0]:.2f} s",
            flush=True,
        )
    for row in rows:  # the seed-to-seed spread on the GPU
        losses = [row["graphs"][2].history.last.valid_loss]
        accs = [row["graphs"][2].history.last.valid_acc]
        for seed in (1, 2):
            if time.perf_counter() - t0 > args.budget:
                break
            c = RunConfig(model=row["model"], device=device, seed=seed, **base)
            h = fit_seconds(c, d, graphs=cuda)[2].history
            losses.append(h.last.valid_loss)
            accs.append(h.last.valid_acc)
        row["losses"], row["accs"] = losses, accs
    bg.join(timeout=max(1.0, args.budget - (time.perf_counter() - t0)))

    print(
        f"\n{base['epochs']}-epoch runs at batch {base['batch_size']} "
        f"on {name} "
        f"(seconds: whole fit, training only in brackets)"
    )
    print(
        f"{'network':17} {'eager s':>14} {'graphs s':>14} "
        f"{'no sync':>8} {'GPU loss s0':>11} {'CPU loss s0':>11} "
        f"{'seed sd':>8} {'agrees':>6} {'GPU acc':>7} {'CPU acc':>7}"
    )
    for row in rows:
        eager, graphs = row["eager"], row["graphs"]
        losses = row["losses"]
        sd = statistics.stdev(losses) if len(losses) > 1 else float("nan")
        cpu = cpu_done.get(row["model"], float("nan"))
        cpu_acc = cpu_done.get(row["model"] + ":acc", float("nan"))
        agrees = (
            ("yes" if abs(losses[0] - cpu) <= 2 * sd else "NO")
            if row["model"] in cpu_done and len(losses) > 1
            else "?"
        )
        print(
            f"{NAMES[row['model']]:17} "
            f"{eager[0]:>6.2f} ({eager[1]:>5.2f}) "
            f"{graphs[0]:>6.2f} ({graphs[1]:>5.2f}) {row['sync']:>8} "
            f"{losses[0]:>11.4f} {cpu:>11.4f} {sd:>8.4f} {agrees:>6} "
            f"{row['accs'][0]:>7.2f} {cpu_acc:>7.2f}"
        )
    print(
        f"(no sync: eager/graphs steps; seed sd: over the GPU's seeds "
        f"0-{len(rows[0]['losses']) - 1}; "
        f"agrees: |GPU - CPU| <= 2 sd; total {time.perf_counter() - t0:.0f}"
        f" s)"
    )
    sys.stdout.flush()


def compare(pack: str, cpu_cache: str) -> None:
    """The pack's runs against the CPU cache's, one row each."""
    import tarfile
    from pathlib import Path

    with tarfile.open(pack) as tar:  # ours: made by gpu_check.sh
        gpu = [
            json.load(tar.extractfile(m))
            for m in tar
            if m.name.endswith("/manifest.json")
        ]
    print(
        f"{'run':42} {'trained on':24} {'train s':>8} {'CPU s':>8} "
        f"{'loss':>7} {'CPU':>7} {'diff':>8} {'acc %':>6} {'CPU':>6} "
        f"{'diff':>6}"
    )
    for m in gpu:
        path = Path(cpu_cache) / "runs" / m["key"] / "manifest.json"
        cpu = json.loads(path.read_text()) if path.is_file() else None
        where = ", ".join(w["device"] for w in m["meta"].get("trained_on", []))
        label = schedule.run_label(RunConfig(**m["config"]))
        g, c = m["final"], (cpu or {}).get("final") or {}
        nan = float("nan")
        print(
            f"{label[:42]:42} {where[:24]:24} "
            f"{m['meta']['train_seconds']:>8.1f} "
            f"{(cpu or {}).get('meta', {}).get('train_seconds', nan):>8.1f} "
            f"{g['valid_loss']:>7.4f} {c.get('valid_loss', nan):>7.4f} "
            f"{g['valid_loss'] - c.get('valid_loss', nan):>+8.4f} "
            f"{g['valid_acc']:>6.2f} {c.get('valid_acc', nan):>6.2f} "
            f"{g['valid_acc'] - c.get('valid_acc', nan):>+6.2f}"
        )


if __name__ == "__main__":
    main()
