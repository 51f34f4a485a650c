"""Kerr light: elliptic functions, geodesics, redshift and the ray-tracing front end.

Every physics file has a Julia twin of the same path under ``julia/src/`` (see
docs/architecture.md). Nothing here imports from the learning or interface layers.
"""
