"""Tiny datasets in the exact on-disk formats torchvision reads, and the certify overrides the CLI tests share."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import numpy as np
from google.protobuf.message import DecodeError


def make_cifar10(root: Path, per_batch: int = 4, test: int = 6, seed: int = 0) -> Path:
    """root/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}: pickled dicts, uint8 rows of 3072."""
    rng = np.random.default_rng(seed)
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True, exist_ok=True)

    def batch(n: int) -> dict:
        return {
            "data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            "labels": [int(v) for v in rng.integers(0, 10, size=n)],
            "batch_label": "fixture",
        }

    for i in range(1, 6):
        with open(base / f"data_batch_{i}", "wb") as f:
            pickle.dump(batch(per_batch), f)
    with open(base / "test_batch", "wb") as f:
        pickle.dump(batch(test), f)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"label_names": names, "num_cases_per_batch": per_batch, "num_vis": 3072}, f)
    return root


def make_svhn(root: Path, train: int = 8, test: int = 6, seed: int = 0) -> Path:
    """root/{train,test}_32x32.mat: X of shape (32, 32, 3, N) uint8, y of shape (N, 1) in 1..10 (10 = digit 0)."""
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", train), ("test", test)):
        X = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
        y = rng.integers(1, 11, size=(n, 1)).astype(np.uint8)
        savemat(root / f"{split}_32x32.mat", {"X": X, "y": y})
    return root


def make_imagefolder(
    root: Path,
    classes: tuple[str, ...] = ("n01440764", "n01443537"),
    per_class: int = 3,
    size: tuple[int, int] = (40, 30),
    seed: int = 0,
) -> Path:
    """root/{train,val}/<class>/<i>.JPEG, real JPEG files."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        for cls in classes:
            d = root / split / cls
            d.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
                Image.fromarray(arr).save(d / f"{cls}_{i}.JPEG", format="JPEG")
    return root


def fake_train_overrides(out: Path, epochs: int) -> list[str]:
    """``rsmooth-train`` overrides of the small shared run: the digits CNN on 64 fake 1×8×8 images of 4 classes
    (24 test images), ``epochs`` epochs on the CPU, CSV logs, no callbacks, no final certification, into ``out``."""
    return [
        "data=fake",
        "model=digits_cnn",
        "data.num_classes=4",
        "data.input_shape=[1,8,8]",
        "data.train_size=64",
        "data.test_size=24",
        f"trainer.max_epochs={epochs}",
        "trainer.accelerator=cpu",
        "trainer.enable_progress_bar=false",
        "logger=csv",
        "~callbacks",
        "certification.enabled=false",
        f"paths.output_dir={out}",
    ]


def certify_overrides(checkpoint: Path, tsv: Path, n: int = 200) -> list[str]:
    """``rsmooth-certify`` overrides: ``checkpoint`` into ``tsv`` at n0 = 20, ``n``, batch 100, no progress bar."""
    return [
        f"checkpoint={checkpoint}",
        f"output={tsv}",
        f"paths.output_dir={tsv.parent}",
        "certification.n0=20",
        f"certification.n={n}",
        "certification.batch_size=100",
        "certification.progress=false",
    ]


def wandb_records(path: Path) -> list:  # type: ignore[type-arg]
    """The records of an offline W&B run file (``run-<id>.wandb``): a 7-byte header (``:W&B``, 0xBEE1,
    version), then LevelDB-log framing in 32 KiB blocks (crc32c, length, type FULL/FIRST/MIDDLE/LAST),
    each record a ``wandb_internal_pb2.Record``. wandb 0.31 ships no Python reader, so this is one."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, block, pos = path.read_bytes(), 32768, 7
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    records, parts = [], b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a record header never straddles a block: the rest is padding
            pos += block - pos % block
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        if kind == 0 or pos + 7 + length > len(data):  # zero padding, or a record W&B is still writing
            break
        parts += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST: a whole record
            record = pb.Record()
            record.ParseFromString(parts)
            records.append(record)
            parts = b""
    return records


def result_fields(rows: list) -> list[tuple]:  # type: ignore[type-arg]
    """Everything in certification rows but their time: what two runs of the same config must share."""
    return [(r.idx, r.label, r.predict, r.radius, r.count, r.count_runner_up, r.n, r.p_lower) for r in rows]


def finished_wandb_run(run_dir: Path, timeout: float = 120.0) -> tuple[Path, list]:  # type: ignore[type-arg]
    """The run file of the one offline W&B run under ``run_dir``/wandb and its records, once the run is complete.

    W&B writes the file from its own service process, which may still be flushing when ``wandb.finish()``
    returns; ``wandb sync`` treats a run as complete once its log holds the run's ``exit`` record, and so
    does this: it rereads the file until that record is there (or ``timeout`` seconds pass)."""
    deadline = time.monotonic() + timeout
    while True:
        files = list(run_dir.glob("wandb/offline-run-*/run-*.wandb"))
        assert len(files) <= 1, files
        if files:
            try:
                records = wandb_records(files[0])
            except (AssertionError, DecodeError):  # not even the header yet, or a record half flushed
                records = []
            if any(r.WhichOneof("record_type") == "exit" for r in records):
                return files[0], records
        assert time.monotonic() < deadline, f"no complete W&B run under {run_dir} after {timeout} s"
        time.sleep(0.1)
