"""Saving and loading lensed image models: ``model.pt`` (state dict) + ``model.json`` (config).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ..fields import EmissionField, field_from_config
from ..io.atomic import atomic_torch_save, atomic_write_text
from ..io.readers import _corrupt, _existing, load_torch
from .lensed import LensedImage

__all__ = ["save_model", "load_model"]


def save_model(model: LensedImage, directory: str | os.PathLike) -> Path:
    """Write ``model.pt`` (state dict) and ``model.json`` (config) into ``directory``.

    Both files are written atomically (temporary file + ``os.replace``).

    Raises
    ------
    TypeError
        ``model`` is not a :class:`LensedImage` (a bare field, say).
    ValueError
        Its field cannot be rebuilt by :func:`load_model`: only an
        :class:`~kerrfield.fields.EmissionField` (rebuilt from ``field.config``) can; an
        analytic emission or an axisymmetric wrapper would be written but not read back.

    Examples
    --------
    >>> import kerrfield as kf, tempfile
    >>> m = kf.kerr_image_model(kf.EmissionField(seed=0), 0.5, 60.0, npix=8)
    >>> d = kf.save_model(m, tempfile.mkdtemp())
    >>> kf.load_model(d).config()["spin"]  # doctest: +ELLIPSIS
    0.5...
    """
    if not isinstance(model, LensedImage):
        raise TypeError("model must be a kerrfield LensedImage (kf.kerr_image_model or "
                        f"kf.fixed_image_model), got {type(model).__name__}")  # fmt: skip
    if not isinstance(model.field, EmissionField):
        raise ValueError(f"save_model stores models whose field is an EmissionField (rebuilt "
                         f"from its config); this model's field is "
                         f"{type(model.field).__name__}, which load_model could not rebuild")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_torch_save(model.state_dict(), directory / "model.pt")
    atomic_write_text(json.dumps(model.config(), indent=1), directory / "model.json")
    return directory


def load_model(directory: str | os.PathLike, device=None) -> LensedImage:
    """Load a model written by :func:`save_model` (fixed geometry included).

    Parameters
    ----------
    directory : str or os.PathLike
        Holds ``model.json`` and ``model.pt`` (the ``--output`` of ``kerrfield fit``).
    device : torch.device or str, optional
        Where to move the model; the CPU when None.

    Returns
    -------
    LensedImage
        The saved model with its weights: the same kind (``"fixed"``, with the stored
        geometry, or ``"kerr"``), screen (α, β in M), orders, surface, velocity, beam and
        field.

    Raises
    ------
    FileNotFoundError
        If ``directory`` does not exist, lacks ``model.json`` or ``model.pt``, or holds the
        fit of an observation (which saves a sky image, no model).
    CorruptFileError
        If ``model.json`` or ``model.pt`` cannot be read (a ``ValueError`` subclass).
    """
    directory = Path(directory)
    advice = "Fit the model again (kerrfield fit) or point at another model directory."
    if not directory.is_dir():
        raise FileNotFoundError(f"no model directory {str(directory)!r} (expected the --output "
                                "of kerrfield fit, holding model.pt and model.json)")
    if not (directory / "model.json").exists() and (directory / "image.fits").exists():
        raise FileNotFoundError(f"{str(directory)!r} holds the fit of an observation (summary."
                                "json, image.fits), which saves no model to re-render: read "
                                "its sky image with kerrfield.read_fits_image")  # fmt: skip
    try:
        cfg = json.loads(_existing(directory / "model.json", "model description").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _corrupt(directory / "model.json", "model description", exc, advice) from exc
    state = load_torch(directory / "model.pt", "model weights", advice, map_location="cpu",
                       weights_only=True)  # fmt: skip
    field = field_from_config(cfg["field"]) if cfg.get("field") else EmissionField()
    alpha = torch.tensor(cfg["alpha"], dtype=torch.float64)
    beta = torch.tensor(cfg["beta"], dtype=torch.float64)
    common = dict(k=cfg["k"], orders=cfg["orders"], surface=cfg["surface"],
                  velocity=cfg["velocity"], spin_bound=cfg["spin_bound"],
                  beam_fwhm=cfg.get("beam_fwhm"))  # fmt: skip
    if cfg["kind"] == "fixed":
        n_ord, n_pix = state["geo_gk"].shape
        geo = {
            "x": state["geo_xyz"][..., 0], "y": state["geo_xyz"][..., 1],
            "z": state["geo_xyz"][..., 2], "g": torch.ones(n_ord, n_pix),
            "status": (~state["geo_mask"]).to(torch.int64),
        }  # fmt: skip
        model = LensedImage(field, alpha, beta, kind="fixed", geometry=geo, spin=cfg["spin"],
                            inclination=cfg["inclination"], **common)  # fmt: skip
    else:
        model = LensedImage(field, alpha, beta, kind="kerr", spin=0.5, inclination=60.0,
                            learn_geometry=cfg["learn_geometry"],
                            relinearize_every=cfg.get("relinearize_every", 1),
                            trust_radius=cfg.get("trust_radius", 1.0),
                            relinearize_tol=cfg.get("relinearize_tol"),
                            sensitivity_cut=cfg.get("sensitivity_cut"), **common)  # fmt: skip
    model.load_state_dict(state)
    return model.to(device) if device is not None else model

