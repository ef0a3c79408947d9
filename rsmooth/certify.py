"""``python -m rsmooth.certify``: the ``rsmooth-certify`` entry point (:mod:`rsmooth.cli.certify`)."""

if __name__ == "__main__":
    from rsmooth.cli.launch import certify

    certify()
