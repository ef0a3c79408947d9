"""``python -m rsmooth.analyze``: the ``rsmooth-analyze`` entry point (:mod:`rsmooth.cli.analyze`)."""

if __name__ == "__main__":
    from rsmooth.cli.launch import analyze

    analyze()
