"""Which rank a process is, from what its launcher put in the environment."""

from __future__ import annotations

import pytest
import torch

from rsmooth.errors import ConfigError
from rsmooth.smoothing.ranks import Ranks, launcher_ranks


def test_torchrun_variables_name_the_rank() -> None:
    assert launcher_ranks({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == Ranks(3, 4, 1)
    # torchrun inside a SLURM allocation: torchrun's own numbering wins
    env = {"RANK": "1", "WORLD_SIZE": "2", "SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "1"}
    assert launcher_ranks(env) == Ranks(1, 2, 0)


def test_srun_variables_name_the_rank_but_a_batch_script_alone_is_one_process() -> None:
    assert launcher_ranks({"SLURM_PROCID": "5", "SLURM_STEP_NUM_TASKS": "8", "SLURM_LOCALID": "1"}) == Ranks(5, 8, 1)
    # sbatch --ntasks=8 running python directly (no srun): the job's task count is not a world to wait for
    assert launcher_ranks({"SLURM_PROCID": "0", "SLURM_NTASKS": "8"}) == Ranks()
    assert launcher_ranks({}) == Ranks() and not Ranks().distributed


@pytest.mark.parametrize(
    "env, message",
    [
        ({"RANK": "x", "WORLD_SIZE": "2"}, "RANK='x', WORLD_SIZE='2' are not integers"),
        ({"RANK": "2", "WORLD_SIZE": "2"}, r"RANK=2 is not in \[0, WORLD_SIZE=2\)"),
    ],
)
def test_a_broken_launcher_environment_is_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        launcher_ranks(env)


def test_each_rank_takes_its_own_gpu_unless_one_is_named() -> None:
    assert Ranks(1, 2, 1).device(torch.device("cuda")) == torch.device("cuda", 1)
    assert Ranks(1, 2, 1).device(torch.device("cuda", 0)) == torch.device("cuda", 0)
    assert Ranks(1, 2, 1).device(torch.device("cpu")) == torch.device("cpu")
    assert Ranks().device(torch.device("cuda")) == torch.device("cuda")
