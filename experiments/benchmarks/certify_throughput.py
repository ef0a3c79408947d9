"""Certify throughput vs forward-only throughput of the same model (SPEC §8 target: ≥ 97 %).

Both are measured in one run, interleaved, at the same batch size and device:
* forward-only: the model on a pre-built batch, argmax, nothing else;
* certify: the sampling loop (`Smooth.counter.count`) — per-example seeded noise, forward, argmax, vote count.

    python experiments/benchmarks/certify_throughput.py --model digits_cnn --batch-size 1000
    python experiments/benchmarks/certify_throughput.py --model resnet110 --device cuda --batch-size 400

Prints samples/s for both and their ratio.
"""

from __future__ import annotations

import argparse
import time

import torch
from hydra.utils import instantiate

from rsmooth.certify import Phase, Smooth
from rsmooth.config import compose
from rsmooth.models import build_classifier
from rsmooth.noise import GaussianNoise

SHAPES = {"digits_cnn": (1, 8, 8), "resnet20": (3, 32, 32), "resnet110": (3, 32, 32), "wrn_40_2": (3, 32, 32),
          "resnet50": (3, 224, 224)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="digits_cnn", choices=sorted(SHAPES))
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=50_000, help="samples per timed repetition")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--channels-last", action="store_true")
    args = ap.parse_args()

    device = torch.device(args.device)
    shape = SHAPES[args.model]
    factory = instantiate(compose("train", [f"model={args.model}"]).model)
    model = build_classifier(factory, 10, shape, [0.5] * shape[0], [0.25] * shape[0]).to(device).eval()
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    x = torch.rand(shape, device=device)
    smooth = Smooth(model, GaussianNoise(0.25), 10)
    batch = torch.rand((args.batch_size, *shape), device=device)
    steps = max(1, args.samples // args.batch_size)
    total = steps * args.batch_size

    def forward_only() -> float:
        _sync(device)
        t = time.perf_counter()
        with torch.inference_mode():
            for _ in range(steps):
                model(batch).argmax(1)
        _sync(device)
        return total / (time.perf_counter() - t)

    def certify_loop() -> float:
        _sync(device)
        t = time.perf_counter()
        smooth.counter.count(x.unsqueeze(0), total, Phase.ESTIMATION, [0], args.batch_size).cpu()
        return total / (time.perf_counter() - t)

    forward_only(), certify_loop()  # warm-up
    fwd, cert = [], []
    for _ in range(args.repeats):  # interleaved, so drift hits both alike
        fwd.append(forward_only())
        cert.append(certify_loop())
    f, c = sorted(fwd)[len(fwd) // 2], sorted(cert)[len(cert) // 2]
    print(f"model={args.model} device={device} batch={args.batch_size} threads={torch.get_num_threads()}")
    print(f"forward-only: {f:,.0f} samples/s   certify: {c:,.0f} samples/s   ratio: {c / f:.3f}")


if __name__ == "__main__":
    main()
