"""``python -m rsmooth.certify``: the ``rsmooth-certify`` entry point (:mod:`rsmooth.cli.certify`)."""

from rsmooth.cli.launch import certify

if __name__ == "__main__":
    certify()
