"""`python -m rsmooth.train`: same as `rsmooth-train` (see :mod:`rsmooth.cli.train`)."""

from rsmooth.cli.train import train, main

__all__ = ["train", "main"]

if __name__ == "__main__":
    main()
