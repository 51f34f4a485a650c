"""Generate the elliptic-function reference values embedded in julia/test/runtests.jl.

Run with the kerrfield venv:  .venv/bin/python julia/test/generate_reference.py
and paste the output into runtests.jl (the values are stored there so that the Julia test suite
runs offline, without Python).  Legendre Π has no scipy function; it is formed from
scipy.special.elliprf/elliprj by DLMF 19.25.14.  Jacobi functions for m < 0 or m > 1 (outside
scipy.special.ellipj's domain) are tested by inversion: u = F(φ|m) from scipy.special.ellipkinc,
then sn(u|m) = sin φ, cn = cos φ, dn = sqrt(1 - m sin²φ).
"""

import numpy as np
import scipy
import scipy.special as sp


def legendre_f(phi: float, m: float) -> float:
    """F(phi|m) for |phi| <= pi/2 and any m, as sin(phi) R_F(cos²phi, 1 - m sin²phi, 1) (DLMF
    19.25.5); used where scipy.special.ellipkinc returns NaN (m > 1)."""
    s, c = np.sin(phi), np.cos(phi)
    return float(s * sp.elliprf(c * c, 1 - m * s * s, 1))


def legendre_e(phi: float, m: float) -> float:
    """E(phi|m) for |phi| <= pi/2 by DLMF 19.25.9 (for m > 1)."""
    s, c = np.sin(phi), np.cos(phi)
    d2 = 1 - m * s * s
    return float(s * sp.elliprf(c * c, d2, 1) - m / 3 * s**3 * sp.elliprd(c * c, d2, 1))


def fmt(x: float) -> str:
    return repr(float(x))


def row(*vals: float) -> str:
    return "(" + ", ".join(fmt(v) for v in vals) + "),"


def main() -> None:
    print(f"# computed with scipy.special {scipy.__version__} (generate_reference.py)")
    print("const REF_RF = [  # (x, y, z, elliprf)")
    for x, y, z in [(1, 2, 3), (0, 1, 2), (0.5, 0.5, 0.5), (1e-3, 5.0, 100.0), (2, 3, 4e4)]:
        print("    " + row(x, y, z, sp.elliprf(x, y, z)))
    print("]")
    print("const REF_RC = [  # (x, y, elliprc); y < 0 is the principal value")
    for x, y in [(1, 2), (2, 1), (0, 0.25), (2, -1), (0.5, -3.0)]:
        print("    " + row(x, y, sp.elliprc(x, y)))
    print("]")
    print("const REF_RD = [  # (x, y, z, elliprd)")
    for x, y, z in [(1, 2, 3), (0, 2, 1), (2, 3, 4), (1e-4, 0.3, 7.0)]:
        print("    " + row(x, y, z, sp.elliprd(x, y, z)))
    print("]")
    print("const REF_RJ = [  # (x, y, z, p, elliprj); p < 0 is the principal value")
    for x, y, z, p in [(1, 2, 3, 4), (0, 1, 2, 3), (2, 3, 4, 5), (1, 2, 3, -0.5),
                       (0, 2, 3, -2), (0.3, 0.7, 1.0, 0.01), (4, 1, 0.5, -3)]:
        print("    " + row(x, y, z, p, sp.elliprj(x, y, z, p)))
    print("]")
    print("const REF_KE = [  # (m, ellipk, ellipe)")
    for m in [0.0, 0.3, 0.9, 0.999999, -2.5, -40.0]:
        print("    " + row(m, sp.ellipk(m), sp.ellipe(m)))
    print("]")
    print("const REF_FE = [  # (phi, m, ellipkinc, ellipeinc); m > 1 via elliprf/elliprd")
    for phi, m in [(0.3, 0.2), (1.2, 0.9), (-0.7, 0.5), (2.5, 0.7), (7.0, 0.3),
                   (1.0, -3.0), (0.4, 4.0), (1.5, 0.99999)]:
        if m > 1:  # scipy's ellipkinc/ellipeinc return NaN for m > 1
            print("    " + row(phi, m, legendre_f(phi, m), legendre_e(phi, m)))
        else:
            print("    " + row(phi, m, sp.ellipkinc(phi, m), sp.ellipeinc(phi, m)))
    print("]")
    print("const REF_PI = [  # (n, phi, m, Pi) Pi = s R_F(c²,Δ²,1) + n s³/3 R_J(c²,Δ²,1,1-n s²)")
    for n, phi, m in [(0.3, 0.8, 0.5), (-2.0, 1.1, 0.7), (0.9, 1.4, -1.5), (3.0, 0.3, 0.4),
                      (5.0, 1.2, 0.6), (-0.5, 1.5707963267948966, 0.2), (0.5, 1.0, 0.0)]:
        s, c = np.sin(phi), np.cos(phi)
        d2 = 1 - m * s * s
        val = s * sp.elliprf(c * c, d2, 1) + n * s**3 / 3 * sp.elliprj(c * c, d2, 1, 1 - n * s * s)
        print("    " + row(n, phi, m, val))
    print("]")
    print("const REF_PI_COMPLETE = [  # (n, m, Pi(n|m)) = R_F(0,1-m,1) + n/3 R_J(0,1-m,1,1-n)")
    for n, m in [(0.3, 0.5), (-2.0, 0.7), (0.9, -1.5), (3.0, 0.4)]:
        val = sp.elliprf(0, 1 - m, 1) + n / 3 * sp.elliprj(0, 1 - m, 1, 1 - n)
        print("    " + row(n, m, val))
    print("]")
    print("const REF_JACOBI = [  # (u, m, sn, cn, dn) from scipy.special.ellipj, 0 <= m <= 1")
    for u, m in [(0.7, 0.5), (2.0, 0.9), (-1.3, 0.1), (10.0, 0.99), (3.0, 1e-9), (1.5, 1.0),
                 (25.0, 0.7)]:
        sn, cn, dn, _ = sp.ellipj(u, m)
        print("    " + row(u, m, sn, cn, dn))
    print("]")
    print("const REF_JACOBI_INV = [  # (u = ellipkinc(phi, m), m, sin(phi), cos(phi), dn)")
    for phi, m in [(0.9, -3.0), (1.4, -40.0), (-0.6, -0.2), (0.3, 4.0), (0.45, 1.5)]:
        u = sp.ellipkinc(phi, m) if m <= 1 else legendre_f(phi, m)
        print("    " + row(u, m, np.sin(phi), np.cos(phi), np.sqrt(1 - m * np.sin(phi) ** 2)))
    print("]")


if __name__ == "__main__":
    main()
