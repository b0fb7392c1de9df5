"""Which CPU speed-ups pay: one training step under each candidate setting.

Each candidate runs in its own process (some settings are process-wide:
the allocator, oneDNN's ISA, compiled graphs), candidates take turns
round after round (A, B, C, A, B, C, ...) so that a neighbour's burst of
load slows them alike, and the table gives the median over rounds.

    .venv/bin/python bench/bench_candidates.py [--threads 1] [--rounds 4]
        [--steps 30] [--models conv_transpose,unet] [--only plain,cl]

Candidates (flags combine with '+'):
  plain     NCHW, F.cross_entropy on (B, NC, H, W), Adam defaults
  cl        the whole model and its input channels-last (oneDNN's NHWC)
  cl-conv   channels-last, except transposed convolutions kept NCHW
  flatce    the loss on a (B*H*W, NC) view of channels-last logits
  malloc    glibc keeps freed memory (no page faults for fresh tensors)
  foreach   Adam(foreach=True)          fused    Adam(fused=True)
  compile   torch.compile of model + loss (warm-up reported apart)
  avx2      ONEDNN_MAX_CPU_ISA=AVX2 (oneDNN kernels without AVX-512)
  nomkldnn  torch.backends.mkldnn off (ATen's own convolutions)

Prints img/s (median), the ratio to the first candidate, and each
candidate's warm-up (first two steps, compilation included).

Evidence (2-core AMD EPYC VM, torch 2.14.1, 1 thread, load average about
1 (this script alone), 3 rounds of 25 steps; 2026-11-29), img/s and ratio
to plain for PoolUpsampleNet / ConvTransposeNet / UNet:

    plain                      475 1.00   585 1.00   525 1.00
    cl                         699 1.47   718 1.23   655 1.25
    cl+flatce                  741 1.56   811 1.39   682 1.30
    cl+flatce+malloc           828 1.74   989 1.69   845 1.61  <- a2
    cl+flatce+malloc+fused     819 1.73  1026 1.75   807 1.54
    cl-conv+flatce+malloc      830 1.75  1025 1.75   858 1.63
    cl+flatce+malloc+avx2      882 1.86  1081 1.85   842 1.60
    cl+flatce+malloc+compile   667 1.41   921 1.57   820 1.56  (17-20 s
                                                      warm-up each)
    plain+malloc               519 1.09   684 1.17   597 1.14

Kept: cl, flatce, malloc. Fused Adam and NCHW transposed convolutions are
within the noise (an earlier loaded run had cl-conv at 0.80x on
ConvTransposeNet). AVX2 gained 7-9% on two networks here but lost 14% on
ConvTransposeNet in a loaded run, and oneDNN reads it once per process,
before the first convolution, so a notebook that ran one first would
train to other numbers than the build's workers: left out. torch.compile
lost speed and costs its warm-up once per network, batch size and
process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

DEFAULT = (
    "plain,cl,cl+flatce,cl+flatce+malloc,cl+flatce+malloc+foreach,"
    "cl+flatce+malloc+fused,cl-conv+flatce+malloc,"
    "cl+flatce+malloc+avx2,cl+flatce+malloc+compile"
)


def child(model: str, flags: set[str], threads: int, steps: int) -> dict:
    """Time ``steps`` training steps at batch 100 under ``flags``."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    from a2.colour import train
    from a2.colour.models import network
    from a2.config.params import RunConfig

    torch.set_num_threads(threads)
    if "malloc" in flags:
        train.keep_freed_memory()
    if "nomkldnn" in flags:
        torch.backends.mkldnn.enabled = False
    cl = torch.channels_last
    torch.manual_seed(0)
    net = network(RunConfig(model=model))
    if "cl" in flags:
        net = net.to(memory_format=cl)
    if "cl-conv" in flags:  # NHWC everywhere but transposed convolutions
        net = net.to(memory_format=cl)
        for m in net.modules():
            if isinstance(m, nn.ConvTranspose2d):
                m.to(memory_format=torch.contiguous_format)
    kw = {k: True for k in ("foreach", "fused") if k in flags}
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, **kw)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(100, 1, 32, 32, generator=g)
    if flags & {"cl", "cl-conv"}:
        x = x.to(memory_format=cl)
    t = torch.randint(0, 24, (100, 32, 32), generator=g)

    def loss_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = net(x)
        if "flatce" in flags:
            return train.pixel_cross_entropy(out, t)
        return F.cross_entropy(out, t)

    if "compile" in flags:
        loss_fn = torch.compile(loss_fn)

    def step() -> None:
        loss = loss_fn(x, t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    start = time.perf_counter()
    step(), step()
    warm = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return {
        "img_s": 100 * steps / (time.perf_counter() - start),
        "warm_s": warm,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument(
        "--models", default="pool_upsample,conv_transpose,unet"
    )
    parser.add_argument(
        "--only",
        default=DEFAULT,
        help="comma-separated candidates, first = base",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        model, flags = args.child.split(":")
        print(
            json.dumps(
                child(model, set(flags.split("+")), args.threads, args.steps)
            )
        )
        return

    candidates = args.only.split(",")
    models = args.models.split(",")
    print(
        f"{args.threads} thread(s), batch 100, {args.steps} steps per "
        f"measurement, {args.rounds} rounds; load at start: "
        f"{os.getloadavg()[0]:.2f}"
    )
    for model in models:
        results: dict[str, list[dict]] = {c: [] for c in candidates}
        for _ in range(args.rounds):
            for c in candidates:
                env = dict(os.environ)
                if "avx2" in c.split("+"):
                    env["ONEDNN_MAX_CPU_ISA"] = "AVX2"
                # A cold compile, as in a fresh build.
                env["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp()
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        f"{model}:{c}",
                        "--threads",
                        str(args.threads),
                        "--steps",
                        str(args.steps),
                    ],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=True,
                )
                results[c].append(json.loads(out.stdout.splitlines()[-1]))
                shutil.rmtree(env["TORCHINDUCTOR_CACHE_DIR"])
        base = statistics.median(r["img_s"] for r in results[candidates[0]])
        print(f"\n{model} (load now {os.getloadavg()[0]:.2f})")
        print(f"  {'candidate':42} {'img/s':>7} {'ratio':>6} {'warm-up':>8}")
        for c in candidates:
            speed = statistics.median(r["img_s"] for r in results[c])
            warm = statistics.median(r["warm_s"] for r in results[c])
            print(
                f"  {c:42} {speed:>7.0f} {speed / base:>5.2f}x {warm:>7.1f}s",
                flush=True,
            )


if __name__ == "__main__":
    main()
