"""``python -m rsmooth.train``: the ``rsmooth-train`` entry point (:mod:`rsmooth.cli.train`)."""

if __name__ == "__main__":
    from rsmooth.cli.launch import train

    train()
