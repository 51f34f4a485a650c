"""Interferometric (VLBI) data: uvfits I/O, sky images, visibilities, closures and losses.

This room sits beside the physics: it imports nothing from kerrfield but ``io`` and
``_validate`` (see docs/architecture.md); ``fitting.observation`` builds on it.
"""

from kerrfield.io.sky import sky_image, theta_g_uas
from kerrfield.io.skyfits import read_fits_image, write_fits_image
from kerrfield.vlbi.average import average_scans
from kerrfield.vlbi.closures import add_systematic, closure_phases, log_closure_amplitudes
from kerrfield.vlbi.combine import concat_observations, select_segment
from kerrfield.vlbi.dataset import fetch_eht_m87_2017
from kerrfield.vlbi.ehtim_io import from_ehtim, to_ehtim
from kerrfield.vlbi.losses import DataTerms
from kerrfield.vlbi.observe import array_obs, observe
from kerrfield.vlbi.ring import ring_features
from kerrfield.vlbi.uvfits import load_uvfits, save_uvfits
from kerrfield.vlbi.visibilities import visibilities

__all__ = ["DataTerms", "add_systematic", "array_obs", "average_scans", "closure_phases",
           "concat_observations", "fetch_eht_m87_2017", "from_ehtim", "load_uvfits",
           "log_closure_amplitudes", "observe", "read_fits_image", "ring_features",
           "save_uvfits", "select_segment", "sky_image", "theta_g_uas", "to_ehtim",
           "visibilities", "write_fits_image"]
