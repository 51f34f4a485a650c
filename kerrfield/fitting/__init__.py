"""Fitting lensed models to data: losses, the Adam loop, multiscale, scripted inference.

The loop (:mod:`.loop`) trains a :class:`~kerrfield.models.lensed.LensedImage`; the scripted
inference is split into its configuration (:mod:`.config`), the units of work (:mod:`.plan`),
the runner (:mod:`.runner`) and the summaries (:mod:`.summary`).
"""
