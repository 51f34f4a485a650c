"""Lensed image models: an emission field seen through Kerr lensing, rendering, synthetic targets.

Models combine a field (:mod:`kerrfield.fields`) with the geometry of :mod:`kerrfield.physics`.
"""
