# Conserved quantities λ, η of a Kerr null geodesic from its screen coordinates at a distant
# observer, and the status codes and constants shared by the geodesic files (scalar port of
# the Python twin: same formulas, same conventions, same status codes).
#
# Gralla & Lupsasca 2020, "Null geodesics of the Kerr exterior", PRD 101, 044032 (GL20):
# * λ = −α sin θo, η = (α² − a²)cos²θo + β² (GL20b, PRD 101 044031, eqs. 58-59).
#
# Twin of kerrfield/physics/geodesics/conserved.py.

const STATUS_OK = Int8(0)
const STATUS_HORIZON = Int8(1)
const STATUS_ESCAPE = Int8(2)
const STATUS_MISSES = Int8(3)

"""
    conserved_quantities(a, theta_o, alpha, beta) -> (lam, eta)

λ = −α sin θo and η = (α² − a²)cos²θo + β² (GL20b, PRD 101 044031, eqs. 58-59).
"""
conserved_quantities(a, theta_o, alpha, beta) =
    (-alpha * sin(theta_o), (alpha * alpha - a * a) * cos(theta_o)^2 + beta * beta)
