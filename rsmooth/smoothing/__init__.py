"""The engine: a base network's votes on noisy copies, turned into certificates.

* :mod:`~rsmooth.smoothing.sampling` — the vote-counting loop with per-example randomness;
  :mod:`montecarlo`, :mod:`exact`, :mod:`predict`, :mod:`sequential` — CERTIFY's counting, exact
  enumeration, PREDICT, sequential CERTIFY;
* :mod:`~rsmooth.smoothing.smooth` — ``Smooth``, the smoothed classifier that ties them together;
* :mod:`~rsmooth.smoothing.settings` — ``CertificationSettings``, checked once and passed down;
* :mod:`~rsmooth.smoothing.loop` — certifying the examples of a dataset group by group;
* :mod:`~rsmooth.smoothing.cpu` — opt-in tuning of a CPU process (noise threads, allocator);
  :mod:`~rsmooth.smoothing.ranks` — the processes of a sharded run.

Pure torch/numpy/scipy: no Lightning, Hydra or W&B; runs on any device.
"""

from rsmooth.smoothing.loop import CertifiedExample, certify_dataset, select_indices
from rsmooth.smoothing.predict import Prediction
from rsmooth.smoothing.sampling import BLOCK_SIZE, RNG_SCHEME, Phase, VoteCounter, block_seed
from rsmooth.smoothing.sequential import SampleSchedule
from rsmooth.smoothing.settings import CertificationSettings, SequentialSettings
from rsmooth.smoothing.smooth import CertifyResult, Smooth

__all__ = [
    "BLOCK_SIZE",
    "RNG_SCHEME",
    "CertificationSettings",
    "CertifiedExample",
    "CertifyResult",
    "Phase",
    "Prediction",
    "SampleSchedule",
    "SequentialSettings",
    "Smooth",
    "VoteCounter",
    "block_seed",
    "certify_dataset",
    "select_indices",
]
