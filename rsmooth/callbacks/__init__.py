"""Lightning callbacks, one job each."""

from rsmooth.callbacks.certify import CertifyCallback, radius_key
from rsmooth.callbacks.rng_state import RngStateCheckpoint

__all__ = ["CertifyCallback", "RngStateCheckpoint", "radius_key"]
