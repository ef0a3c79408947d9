"""Entry points: plain functions ``train(cfg)``, ``certify(cfg)``, ``analyze(cfg)`` and their thin
``@hydra.main`` wrappers (console scripts ``rsmooth-train``, ``rsmooth-certify``, ``rsmooth-analyze``)."""
