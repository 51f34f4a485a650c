"""The regularised radial time integrals of rays inside the critical curve (root cases 3, 4).

I₁ − ln r_∞ and I₂ − r_∞ (GL20 B2's divergent observer terms removed) against mpmath
quadrature at 50 digits: I₁ᵣ = ∫_{r_s}^∞ (r/√R − 1/r) dr − ln r_s and
I₂ᵣ = ∫_{r_s}^∞ (r²/√R − 1) dr − r_s, valid because these rays have no radial turning point.
The infinite part is integrated in x = 1/r, where (1 + Ax² + Bx³ + Cx⁴)^(−1/2) − 1 = O(x²)
makes both integrands smooth on a finite interval (quadrature straight to r = ∞ is not
reliable for these slowly decaying integrands).
"""

from __future__ import annotations

import mpmath
import pytest
import torch

from kerrfield.physics.geodesics.radial import radial_roots
from kerrfield.physics.geodesics.radial_cases import _case3, _case4

mpmath.mp.dps = 50


def _reference(a: float, lam: float, eta: float, r_s: float) -> tuple[float, float]:
    big_a = a * a - eta - lam * lam
    big_b = 2 * (eta + (lam - a) ** 2)
    big_c = -a * a * eta

    def sqrt_r(r):
        return mpmath.sqrt(r**4 + big_a * r**2 + big_b * r + big_c)

    def f_minus_1(x):  # r²/√R − 1 in x = 1/r
        return 1 / mpmath.sqrt(1 + big_a * x**2 + big_b * x**3 + big_c * x**4) - 1

    r_s = mpmath.mpf(r_s)
    split = 2 * r_s + 10
    i1 = mpmath.quad(lambda r: r / sqrt_r(r) - 1 / r, [r_s, split])
    i1 += mpmath.quad(lambda x: f_minus_1(x) / x, [0, 1 / split])
    i2 = mpmath.quad(lambda r: r * r / sqrt_r(r) - 1, [r_s, split])
    i2 += mpmath.quad(lambda x: f_minus_1(x) / x**2, [0, 1 / split])
    return float(i1 - mpmath.log(r_s)), float(i2 - r_s)


# (spin, λ, η): rays inside the critical curve with small and large |A|; case 3 (two real
# roots) for η > 0, case 4 (none) needs η < 0 (vortical rays, which reach cones)
RAYS = [(0.7, 0.5, 4.0), (0.7, -1.5, 9.0), (0.94, 2.0, 1.0), (0.3, 0.0, 0.5),
        (0.99, -3.0, 12.0), (0.5, 1.0, 20.0), (0.1, 4.0, 2.0),
        (0.9, 0.4, -0.5), (0.5, 0.2, -0.2), (0.94, 0.0, -0.3)]  # fmt: skip
CASE4 = {(0.9, 0.4, -0.5), (0.5, 0.2, -0.2), (0.94, 0.0, -0.3)}


@pytest.mark.parametrize("a,lam,eta", RAYS)
def test_case3_and_4_regularised_time_matches_quadrature(a, lam, eta):
    f64 = dict(dtype=torch.float64)
    at, lt, et = (torch.tensor([v], **f64) for v in (a, lam, eta))
    roots = radial_roots(at[0], lt, et)
    assert bool(roots["d34"][0] < 0), "ray must lie inside the critical curve"
    case = _case4 if (a, lam, eta) in CASE4 else _case3
    assert bool(roots["d12"][0] < 0) == (case is _case4)
    rp = 1 + (1 - a * a) ** 0.5
    rm = 1 - (1 - a * a) ** 0.5
    tau = torch.tensor([[0.05], [0.2], [0.4]], **f64)
    r, _, ok, _, _, i1, i2 = case(
        torch.tensor(rp, **f64), torch.tensor(rm, **f64), roots["z"], roots["d12"],
        roots["d34"], tau, [roots[c] for c in "ABC"],
    )  # fmt: skip
    checked = 0
    for j in range(tau.shape[0]):
        if not bool(ok[j, 0]):
            continue
        ref1, ref2 = _reference(a, lam, eta, float(r[j, 0]))
        assert abs(float(i1[j, 0]) - ref1) <= 1e-12 * max(1.0, abs(ref1)), (case.__name__, j)
        assert abs(float(i2[j, 0]) - ref2) <= 1e-12 * max(1.0, abs(ref2)), (case.__name__, j)
        checked += 1
    assert checked >= 1
