"""`python -m rsmooth.certify`: same as `rsmooth-certify` (see :mod:`rsmooth.cli.certify`).

Only this file, run as a program, reaches Hydra; importing ``rsmooth.certify`` does not.
"""

from rsmooth.cli.certify import main

if __name__ == "__main__":
    main()
