"""Interferometric (VLBI) data: uvfits I/O, sky images, visibilities, closures and losses.

This subpackage sits at the level of the physics code: it imports nothing from kerrfield
but argument checks (and, later, ``kerrfield.io``).
"""

from kerrfield.vlbi.uvfits import load_uvfits, save_uvfits

__all__ = ["load_uvfits", "save_uvfits"]
