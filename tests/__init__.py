"""rsmooth's test suite.

The suite owns its process, so it may tune it, before anything loads torch (this package is imported before
``tests/conftest.py``): OpenMP threads that finish a parallel region sleep instead of spinning. The suite
runs more OpenMP teams than there are cores (pytest-xdist workers, each starting entry points and ranks as
subprocesses, which inherit this), and a spinning thread burns the core another process is waiting for:
``tests/integration/test_distributed.py`` on 2 cores took 199–233 CPU-seconds spinning, 164–172 sleeping
(2026-12-06). rsmooth itself sets nothing on import (``tests/unit/test_host_process.py``).
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
