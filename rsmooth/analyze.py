"""``python -m rsmooth.analyze``: the ``rsmooth-analyze`` entry point (:mod:`rsmooth.cli.analyze`)."""

from rsmooth.cli.launch import analyze

if __name__ == "__main__":
    analyze()
