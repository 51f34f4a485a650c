"""How much memory a ray trace needs, checked before tracing starts.

:func:`kerrfield.raytrace` holds its whole result in memory: per pixel and order ten float64
variables and the int8 status, plus per pixel λ, η and the screen grid. A screen that
cannot fit is refused up front with the estimate and what to do, instead of growing until
the machine swaps or the process is killed.
"""

from __future__ import annotations

import os

__all__ = ["trace_bytes", "available_bytes", "check_trace_memory"]

#: bytes per pixel and order (10 float64 variables + int8 status) and per pixel (λ, η and
#: the α, β grid), then a margin for the chunk being traced and xarray's bookkeeping
_PER_ORDER, _PER_PIXEL, _MARGIN = 10 * 8 + 1, 4 * 8, 1.15


def trace_bytes(n_pixels: int, n_orders: int) -> int:
    """Estimated peak bytes of ``raytrace`` on ``n_pixels`` screen points and ``n_orders``."""
    return int(n_pixels * (n_orders * _PER_ORDER + _PER_PIXEL) * _MARGIN)


def available_bytes() -> int | None:
    """Memory available to a new allocation (Linux ``MemAvailable``), or None if unknown."""
    override = os.environ.get("KERRFIELD_MEMORY_LIMIT_GB")
    if override:
        return int(float(override) * 2**30)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def check_trace_memory(n_alpha: int, n_beta: int, n_orders: int) -> None:
    """Raise ``MemoryError`` (a clear one) when the trace cannot fit in available memory."""
    need = trace_bytes(n_alpha * n_beta, n_orders)
    have = available_bytes()
    if have is None or need <= have:
        return
    gib = 2**30
    side = int((have / (n_orders * _PER_ORDER + _PER_PIXEL) / _MARGIN) ** 0.5)
    raise MemoryError(
        f"raytrace of a {n_beta}x{n_alpha} screen with {n_orders} order(s) needs about "
        f"{need / gib:.1f} GiB, but only {have / gib:.1f} GiB is available: use npix <= "
        f"{side}, fewer orders, or stream the trace to a file block by block with "
        "kerrfield.raytrace_to_netcdf (kerrfield raytrace -o FILE.nc does)"
    )
