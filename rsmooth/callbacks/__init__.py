"""Lightning callbacks, one job each."""

from rsmooth.callbacks.certify import CertifyCallback, radius_key

__all__ = ["CertifyCallback", "radius_key"]
