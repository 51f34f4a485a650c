"""Files and physical units: atomic writes, screens in µas, FITS images.

The bottom layer: nothing here imports from the rest of kerrfield.
"""
