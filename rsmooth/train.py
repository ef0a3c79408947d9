"""``python -m rsmooth.train``: the ``rsmooth-train`` entry point (:mod:`rsmooth.cli.train`)."""

from rsmooth.cli.launch import train

if __name__ == "__main__":
    train()
