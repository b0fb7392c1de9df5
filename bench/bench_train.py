"""Training throughput: a2's loop against the course helper's style.

Claim: on a 2-core CPU, a2.train trains both networks at least 1.3x as many
images per second as a loop written the way the course's helper does it
(numpy batches turned into tensors each step, targets computed per batch
with numpy, the loss on a transposed copy of the outputs). Same model, same
data, same batch size, measured in one run, loops interleaved so that a
busy machine slows both alike.

    .venv/bin/python bench/bench_train.py [--images 1000] [--epochs 3]
    .venv/bin/python bench/bench_train.py --full-epoch   # + one full epoch

Data: A2_DATA (or --data). Prints the machine first. About a minute.

Evidence (2 x86_64 CPUs shared with other jobs, load average about 4,
torch 2.14.1, CPU, 1000 images, batch 100):

    --threads 1     pool_upsample 257 -> 508 img/s (1.98x),
                    conv_transpose 255 -> 755 img/s (2.96x)
    2 threads       1.16x to 1.73x and 1.22x to 1.58x, varying with load:
                    two threads on two busy cores wait for each other.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F

from a2 import data as a2_data
from a2 import settings
from a2.models import build_model
from a2.train import RunConfig, Trainer

MODELS = ("pool_upsample", "conv_transpose")


def course_targets(rgb: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """The helper's nearest colour: direct distances in numpy, per batch.
    (N, 3, 32, 32) -> (N, 1, 32, 32)."""
    cs = np.reshape(colours, [len(colours), 1, 3, 1, 1])
    dists = np.linalg.norm(np.expand_dims(rgb, 0) - cs, axis=2)
    return np.expand_dims(np.argmin(dists, axis=0), axis=1)


class ReferenceLoop:
    """One epoch the way the course's helper trains."""

    def __init__(self, name: str, rgb: np.ndarray, colours: np.ndarray,
                 batch_size: int, seed: int = 0):
        torch.manual_seed(seed)
        self.model = build_model(name)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.rgb = rgb  # float64, as the helper's xs / 256.0
        self.grey = np.mean(rgb, axis=1, keepdims=True)
        self.colours, self.batch_size = colours, batch_size

    def epoch(self) -> tuple[float, float]:
        """(seconds for the epoch, of which computing targets)."""
        self.model.train()
        start = time.perf_counter()
        t_targets = 0.0
        for s in range(0, len(self.rgb), self.batch_size):
            xs = self.grey[s:s + self.batch_size]
            t0 = time.perf_counter()
            ys = course_targets(self.rgb[s:s + self.batch_size],
                                self.colours)
            t_targets += time.perf_counter() - t0
            images = torch.from_numpy(xs).float()
            labels = torch.from_numpy(ys).long()
            self.opt.zero_grad()
            outputs = self.model(images)
            nc = outputs.shape[1]
            loss = F.cross_entropy(
                outputs.transpose(1, 3).contiguous().view(-1, nc),
                labels.transpose(1, 3).contiguous().view(-1))
            loss.backward()
            self.opt.step()
            _ = loss.item()  # the helper logs every batch's loss
        return time.perf_counter() - start, t_targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=settings.data_source())
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's choice); 1 "
                             "is steadier on a machine shared with others")
    parser.add_argument("--full-epoch", action="store_true",
                        help="also time one epoch on all 5000 images")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    device = "cpu"
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"device {device}")
    print(f"data: {args.data}; {args.images} images, batch "
          f"{args.batch_size}, median of {args.epochs} epochs after a warm-up")
    d = a2_data.load(source=args.data, n_train=args.images, n_valid=100)
    rgb = d.train_rgb.numpy().astype(np.float64)
    print(f"{'model':16} {'reference img/s':>16} {'a2 img/s':>10} "
          f"{'speed-up':>9} {'ref. targets':>13}")
    for name in MODELS:
        config = RunConfig(model=name, batch_size=args.batch_size,
                           device=device)
        ours = Trainer(config, d)
        ref = ReferenceLoop(name, rgb, d.palette.astype(np.float64),
                            args.batch_size)
        ours.train_epoch(), ref.epoch()  # warm-up: allocator, oneDNN
        t_ours, t_ref, t_targets = [], [], 0.0
        for _ in range(args.epochs):
            seconds, targets = ref.epoch()
            t_ref.append(seconds)
            t_targets += targets
            t_ours.append(ours.train_epoch()[1])
        # Medians of per-epoch times: robust to a neighbour's burst of load.
        m_ref, m_ours = np.median(t_ref), np.median(t_ours)
        share = t_targets / sum(t_ref)
        print(f"{name:16} {args.images / m_ref:>16.0f} "
              f"{args.images / m_ours:>10.0f} {m_ref / m_ours:>8.2f}x "
              f"{share:>12.0%}", flush=True)
    print("(ref. targets: share of the reference's time spent computing "
          "targets per batch)")

    if args.full_epoch:
        full = a2_data.load(source=args.data)
        for name in MODELS + ("unet",):
            trainer = Trainer(RunConfig(model=name, device=device), full)
            seconds = trainer.train_epoch()[1]
            print(f"one full epoch, {name}: {seconds:.1f} s for "
                  f"{len(full.train_grey)} images (batch 100)", flush=True)


if __name__ == "__main__":
    main()
