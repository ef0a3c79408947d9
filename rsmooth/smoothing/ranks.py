"""The ranks of a multi-process run: torchrun, SLURM ``srun``, or Lightning DDP (docs/design.md §7).

rsmooth never schedules processes itself. A launcher starts N copies of the same command and says
which one each is, in the environment: torchrun sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` (and
``MASTER_ADDR``/``MASTER_PORT``); ``srun`` sets ``SLURM_PROCID``/``SLURM_STEP_NUM_TASKS``/``SLURM_LOCALID``
and the job script exports ``MASTER_ADDR``/``MASTER_PORT`` (conf/hydra/launcher/slurm.yaml does). The
step's task count is read, not the job's ``SLURM_NTASKS``: only srun sets it, so a batch script that runs
rsmooth without srun stays one process instead of waiting for ranks that never come. Inside Lightning
DDP the process group already exists and is reused. Certification needs no collective but a barrier and one broadcast:
each example's noise comes from (seed, idx), so any split of the examples gives the same rows.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from rsmooth.errors import ConfigError

#: how long a rank waits at a barrier for the others: ranks finish their shares at different times
#: (a share of ImageNet inputs at n = 100 000 takes hours), so this is long
BARRIER_TIMEOUT = datetime.timedelta(days=7)


@dataclass(frozen=True)
class Ranks:
    """This process's place in the run: ``rank`` of ``world`` processes, ``local_rank`` on its machine."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def is_zero(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        """Wait until every rank is here (a no-op in one process)."""
        if self.distributed:
            dist.barrier()

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank (e.g. its output path, which Hydra dates per process)."""
        if not self.distributed:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def device(self, device: torch.device) -> torch.device:
        """The device this rank certifies on: its own GPU (``cuda:LOCAL_RANK``) when ``device`` is CUDA."""
        if device.type == "cuda" and self.distributed and device.index is None:
            return torch.device("cuda", self.local_rank)
        return device


def launcher_ranks(env: Mapping[str, str]) -> Ranks:
    """The ranks a launcher announced in ``env`` (torchrun's variables first, then SLURM's)."""
    for rank, world, local in (
        ("RANK", "WORLD_SIZE", "LOCAL_RANK"),
        ("SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID"),
    ):
        if world in env and rank in env:
            try:
                ranks = Ranks(int(env[rank]), int(env[world]), int(env.get(local, "0")))
            except ValueError:
                raise ConfigError(
                    f"launcher environment: {rank}={env[rank]!r}, {world}={env[world]!r} are not integers"
                ) from None
            if not 0 <= ranks.rank < ranks.world:
                raise ConfigError(f"launcher environment: {rank}={ranks.rank} is not in [0, {world}={ranks.world})")
            return ranks
    return Ranks()


@contextmanager
def joined_ranks(device: torch.device) -> Iterator[Ranks]:
    """This process's :class:`Ranks`, joining the launcher's process group for the duration (gloo on
    CPU, NCCL on GPU) unless one exists already (Lightning DDP), which is then left as it was."""
    if dist.is_available() and dist.is_initialized():
        yield Ranks(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
        return
    ranks = launcher_ranks(os.environ)
    if not ranks.distributed:
        yield ranks
        return
    missing = [v for v in ("MASTER_ADDR", "MASTER_PORT") if v not in os.environ]
    if missing:
        raise ConfigError(
            f"{ranks.world} ranks announced but {' and '.join(missing)} not set: under srun, export "
            "MASTER_ADDR (the first node's host name) and MASTER_PORT (a free port) in the job script"
        )
    backend = "nccl" if ranks.device(device).type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(ranks.local_rank)
    dist.init_process_group(
        backend, init_method="env://", rank=ranks.rank, world_size=ranks.world, timeout=BARRIER_TIMEOUT
    )
    try:
        yield ranks
    finally:
        dist.destroy_process_group()
