"""Neural emission fields: coordinate MLPs and their input encodings (torch only).

Fields map emitter positions in M to intensity; they know nothing of lensing.
"""

from .emission import EmissionField, emission_map, field_from_config
from .encodings import FourierFeatures, HashGridEncoding, positional_encoding

__all__ = ["EmissionField", "field_from_config", "emission_map", "positional_encoding",
           "FourierFeatures", "HashGridEncoding"]  # fmt: skip
