"""`python -m rsmooth.analyze`: same as `rsmooth-analyze` (see :mod:`rsmooth.cli.analyze`)."""

from rsmooth.cli.analyze import analyze, main

__all__ = ["analyze", "main"]

if __name__ == "__main__":
    main()
