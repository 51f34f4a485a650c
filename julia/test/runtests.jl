# KerrField test suite.  Runs offline with the standard library only:
#     julia --project=julia julia/test/runtests.jl
# (also run from pytest: tests/test_julia_backend.py::test_julia_package_test_suite)
using Test
using KerrField

# ---------------------------------------------------------------------------------------------
# Reference values for the elliptic functions, computed with scipy.special 1.17.1
# (scipy.special.elliprf / elliprc / elliprd / elliprj / ellipk / ellipe / ellipkinc / ellipeinc
# / ellipj) by julia/test/generate_reference.py; regenerate with
#     .venv/bin/python julia/test/generate_reference.py
const REF_RF = [  # (x, y, z, elliprf)
    (1.0, 2.0, 3.0, 0.7269459354689082),
    (0.0, 1.0, 2.0, 1.3110287771460598),
    (0.5, 0.5, 0.5, 1.414213562373095),
    (0.001, 5.0, 100.0, 0.2894300180536164),
    (2.0, 3.0, 40000.0, 0.027692765172221596),
]
const REF_RC = [  # (x, y, elliprc); y < 0 is the principal value
    (1.0, 2.0, 0.7853981633974482),
    (2.0, 1.0, 0.881373587019543),
    (0.0, 0.25, 3.1415926535897927),
    (2.0, -1.0, 0.6617680207599845),
    (0.5, -3.0, 0.21257036094094925),
]
const REF_RD = [  # (x, y, z, elliprd)
    (1.0, 2.0, 3.0, 0.2904602810289907),
    (0.0, 2.0, 1.0, 1.7972103521033884),
    (2.0, 3.0, 4.0, 0.16510527294261054),
    (0.0001, 0.3, 7.0, 0.323587250665023),
]
const REF_RJ = [  # (x, y, z, p, elliprj); p < 0 is the principal value
    (1.0, 2.0, 3.0, 4.0, 0.23984809974956783),
    (0.0, 1.0, 2.0, 3.0, 0.7768862377858233),
    (2.0, 3.0, 4.0, 5.0, 0.1429757966715675),
    (1.0, 2.0, 3.0, -0.5, 0.20722001115871863),
    (0.0, 2.0, 3.0, -2.0, -0.6753446078298596),
    (0.3, 0.7, 1.0, 0.01, 11.457873918569215),
    (4.0, 1.0, 0.5, -3.0, -0.3664604055093964),
]
const REF_KE = [  # (m, ellipk, ellipe)
    (0.0, 1.5707963267948966, 1.5707963267948966),
    (0.3, 1.713889448178791, 1.4453630644126654),
    (0.9, 2.5780921133481733, 1.1047747327040733),
    (0.999999, 8.294051463601061, 1.0000038970261722),
    (-2.5, 1.1208810036030068, 2.306915614359069),
    (-40.0, 0.5086476847368951, 6.6188879778386065),
]
const REF_FE = [  # (phi, m, ellipkinc, ellipeinc); m > 1 via elliprf/elliprd
    (0.3, 0.2, 0.3008909959134638, 0.2991137191295999),
    (1.2, 0.9, 1.5648981345066713, 0.9670376602886748),
    (-0.7, 0.5, -0.7287703057181902, -0.6731891745471288),
    (2.5, 0.7, 3.4768751906448916, 1.871329430383859),
    (7.0, 0.3, 7.59007171719006, 6.481303624022843),
    (1.0, -3.0, 0.7807065662256887, 1.3256631975799982),
    (0.4, 4.0, 0.460042170380594, 0.3536690043076509),
    (1.5, 0.99999, 3.340187889415627, 0.9975067013216787),
]
const REF_PI = [  # (n, phi, m, Pi) Pi = s R_F(c²,Δ²,1) + n s³/3 R_J(c²,Δ²,1,1-n s²)
    (0.3, 0.8, 0.5, 0.8976495094338529),
    (-2.0, 1.1, 0.7, 0.828656541431429),
    (0.9, 1.4, -1.5, 2.4755171332954427),
    (3.0, 0.3, 0.4, 0.3338486409360113),
    (5.0, 1.2, 0.6, 0.006844605212380284),
    (-0.5, 1.5707963267948966, 0.2, 1.3474774539280623),
    (0.5, 1.0, 0.0, 1.1788150789274372),
]
const REF_PI_COMPLETE = [  # (n, m, Pi(n|m)) = R_F(0,1-m,1) + n/3 R_J(0,1-m,1,1-n)
    (0.3, 0.5, 2.2503768219439464),
    (-2.0, 0.7, 1.1085940617433647),
    (0.9, -1.5, 3.476896200482866),
    (3.0, 0.4, -0.1405626208586681),
]
const REF_JACOBI = [  # (u, m, sn, cn, dn) from scipy.special.ellipj, 0 <= m <= 1
    (0.7, 0.5, 0.6243400909662173, 0.7811526424536344, 0.8972734953213249),
    (2.0, 0.9, 0.9816158695184938, 0.19086719128611745, 0.36439985762690186),
    (-1.3, 0.1, -0.9562532893277639, 0.2925399915393312, 0.9531830698585569),
    (10.0, 0.99, -0.9914207448606821, -0.13070924473766324, 0.1640550444006265),
    (3.0, 1e-09, 0.14112000883693884, -0.9899924964896766, 0.9999999999900426),
    (1.5, 1.0, 0.9051482536448664, 0.4250960349422805, 0.4250960349422805),
    (25.0, 0.7, 0.09539524294812242, 0.9954394746155432, 0.9968098230535292),
]
const REF_JACOBI_INV = [  # (u = ellipkinc(phi, m), m, sin(phi), cos(phi), dn)
    (0.7228018221683381, -3.0, 0.7833269096274834, 0.6216099682706644, 1.6854682263512506),
    (0.48184636788764384, -40.0, 0.9854497299884601, 0.16996714290024104, 6.312245782078923),
    (-0.5934902182665128, -0.2, -0.5646424733950354, 0.8253356149096783, 1.0313894630799427),
    (0.321243014549783, 4.0, 0.29552020666133955, 0.955336489125606, 0.8066419464789546),
    (0.47530291497532284, 1.5, 0.43496553411123023, 0.9004471023526769, 0.846290420720333),
]

relerr(a, b) = abs(a - b) / max(abs(b), 1e-300)

@testset "KerrField" begin

@testset "Carlson symmetric integrals" begin
    for (x, y, z, v) in REF_RF
        @test relerr(carlson_rf(x, y, z), v) < 1e-14
        @test relerr(carlson_rf(z, x, y), v) < 1e-14          # symmetric
    end
    for (x, y, v) in REF_RC
        @test relerr(carlson_rc(x, y), v) < 1e-14
    end
    for (x, y, z, v) in REF_RD
        @test relerr(carlson_rd(x, y, z), v) < 1e-14
    end
    for (x, y, z, p, v) in REF_RJ
        @test relerr(carlson_rj(x, y, z, p), v) < 1e-13
    end
    @test carlson_rj(1.0, 2.0, 3.0, 3.0) ≈ carlson_rd(1.0, 2.0, 3.0) rtol = 1e-14
    @test isnan(carlson_rf(-1.0, 1.0, 1.0))
end

@testset "Legendre integrals" begin
    for (m, k, e) in REF_KE
        @test relerr(ellipk(m), k) < 1e-14
        @test relerr(ellipe(m), e) < 1e-14
    end
    for (phi, m, f, e) in REF_FE
        @test relerr(ellipf(phi, m), f) < 1e-14
        @test relerr(ellipe(phi, m), e) < 1e-14
    end
    for (n, phi, m, v) in REF_PI
        @test relerr(ellippi(n, phi, m), v) < 1e-13
    end
    for (n, m, v) in REF_PI_COMPLETE
        @test relerr(ellippi(n, m), v) < 1e-13
    end
    # quasi-periodicity and oddness (DLMF 19.2.10)
    @test ellipf(0.4 + 3pi, 0.6) ≈ ellipf(0.4, 0.6) + 6 * ellipk(0.6) rtol = 1e-14
    @test ellippi(0.3, -2.0, 0.6) ≈ -ellippi(0.3, 2.0, 0.6) rtol = 1e-14
    @test ellipf(pi / 2, 0.8) ≈ ellipk(0.8) rtol = 1e-14
    @test isnan(ellipf(1.2, 4.0))                             # 1 - m sin²φ < 0
end

@testset "Jacobi elliptic functions" begin
    for (u, m, sn, cn, dn) in REF_JACOBI
        s, c, d = ellipj(u, m)
        @test abs(s - sn) < 1e-13
        @test abs(c - cn) < 1e-13
        @test abs(d - dn) < 1e-13
    end
    for (u, m, sn, cn, dn) in REF_JACOBI_INV
        s, c, d = ellipj(u, m)
        @test abs(s - sn) < 1e-13
        @test abs(c - cn) < 1e-13
        @test relerr(d, dn) < 1e-13
    end
    # inversion of F on a grid of m < 1, including negative m (angular integrals)
    for m in (-30.0, -2.0, -0.3, 0.0, 0.2, 0.7, 0.95, 0.9999), phi in (-1.3, -0.2, 0.5, 1.1, 1.5)
        @test jacobi_sn(ellipf(phi, m), m) ≈ sin(phi) atol = 2e-14
        @test jacobi_cn(ellipf(phi, m), m) ≈ cos(phi) atol = 2e-14
        @test jacobi_dn(ellipf(phi, m), m) ≈ sqrt(1 - m * sin(phi)^2) rtol = 2e-14
    end
end

@testset "Kerr basics" begin
    @test horizon(0.0) == 2.0
    @test KerrField.inner_horizon(0.6) ≈ 0.2
    @test isco(0.0) ≈ 6.0
    # values from kerrfield.kerr.isco (BPT 1972 eq. 2.21)
    @test isco(0.998) ≈ 1.2369706551751847 rtol = 1e-14
    @test isco(-0.998) ≈ 8.99437445480357 rtol = 1e-14
    # Schwarzschild critical curve: the circle of radius √27 (GL20b eq. 38 limit)
    al, be = critical_curve(0.0, 60.0, 64)
    @test all(x -> isapprox(x, sqrt(27.0); rtol = 1e-14), hypot.(al, be))
    al, be = critical_curve(1e-4, 60.0, 64)                 # the generic branch, a → 0
    @test all(x -> isapprox(x, sqrt(27.0); rtol = 1e-3), hypot.(al, be))
    @test_throws ArgumentError horizon(1.0)
    # nearly face-on: the visible photon-shell radii bracket λ̃ = 0 (issue 12 item 5)
    for (a, th) in ((0.5, 1e-4), (-0.7, 179.9999), (0.94, 1e-8))
        al, be = critical_curve(a, th, 64)
        @test all(isfinite, al) && all(isfinite, be) && length(al) == 65
    end
    # BPT eq. 2.21 loses digits as a → 0 (3 − Z₁ ~ a²); a Newton step restores them:
    # r_isco = 6 − 4√(2/3) a + O(a²)
    @test abs(isco(1e-8) - (6 - 4 * sqrt(2 / 3) * 1e-8)) < 1e-15
end

# g just inside the ISCO against the defining formulas in 256-bit arithmetic (issue 12 item 8)
function g_plunge_big(a, ri, xi, lam, eta, r, nu_r)
    a, ri, r, lam, eta = big(a), big(ri), big(r), big(lam), big(eta)
    metric(rr) = (-(1 - 2 / rr), -2 * a / rr,
                  ((rr^2 + a^2)^2 - a^2 * (rr^2 - 2rr + a^2)) / rr^2, rr^2 / (rr^2 - 2rr + a^2))
    gtt, gtp, gpp, _ = metric(ri)
    sr = sqrt(ri)
    ell = xi * (ri^2 - 2a * sr + a^2) / (ri * sr - 2sr + a)
    om = -(gtp + ell * gtt) / (gpp + ell * gtp)
    en = -(gtt + gtp * om) / sqrt(-(gtt + 2gtp * om + gpp * om^2))
    ang = en * ell
    gtt, gtp, gpp, grr = metric(r)
    det = gtt * gpp - gtp^2
    ut = -(gpp / det) * en - (gtp / det) * ang
    uphi = (gtp / det) * en + (gtt / det) * ang
    ur = -sqrt(max((-1 + en * ut - ang * uphi) / grr, big(0)))
    dl = r^2 - 2r + a^2
    p_r = nu_r * sqrt((r^2 + a^2 - a * lam)^2 - dl * (eta + (lam - a)^2)) / dl
    return Float64(1 / (ut - lam * uphi - p_r * ur))
end

@testset "plunging emitters just inside the ISCO" begin
    setprecision(BigFloat, 256) do
        for a in (0.0, 0.5, 0.94, -0.7), xi in (1.0, 0.8), nu in (1.0, -1.0)
            v = xi == 1 ? Velocity(:keplerian, 1.0, 1.0, 1.0) : Velocity(:general, xi, 1.0, 1.0)
            sk = KerrField.SubKeplerian(a, xi)
            for d in (1e-15, 1e-13, 1e-11, 1e-9, 1e-8, 1e-6)
                r = sk.r_isco * (1 - d)
                g = KerrField.redshift(v, a, 1.0, 5.0, r, pi / 2, nu, sk)
                @test g ≈ g_plunge_big(a, sk.r_isco, xi, 1.0, 5.0, r, nu) rtol = 2e-15
            end
        end
    end
end

@testset "ray tracing: physics checks" begin
    zamo = Velocity(:zamo, 1.0, 1.0, 1.0)
    # Schwarzschild, nearly face-on: inside the shadow n = 2 falls in, well outside it escapes
    res = trace_rays(0.0, 0.5, [4.0, 10.0, 0.01], [0.0, 0.0, 0.01], [0, 1, 2])
    @test res.status[1, 3] == KerrField.STATUS_HORIZON
    @test res.status[2, 3] == KerrField.STATUS_ESCAPE
    @test res.status[3, :] == fill(KerrField.STATUS_HORIZON, 3)
    @test res.status[2, 1] == KerrField.STATUS_OK
    # n = 0 of a distant pixel seen face-on lands near r ≈ b (weak deflection)
    far = trace_rays(0.0, 0.5, [60.0], [0.0], [0])
    @test 55 < far.vars["r_s"][1, 1] < 60
    # η ≤ 0 (vortical motion near the axis) never reaches the equatorial plane: status 3, NaN
    vort = trace_rays(0.9, 5.0, [0.1], [0.0], [0, 1])
    @test vort.eta[1] < 0
    @test all(vort.status .== KerrField.STATUS_MISSES)
    @test all(isnan, vort.vars["r_s"]) && all(isnan, vort.vars["g"])
    # ... but vortical rays do cross cones on the observer's side (GL20 eqs. 54-59). Values
    # from the independent DOP853 integration of tests/reference.py (rtol 1e-12)
    vc = trace_rays(0.94, 30.0, [-0.5264], [0.4559], [0, 1, 2]; surface_theta_deg = 20.0)
    @test vc.eta[1] < 0
    @test vc.status[1, :] == Int8[0, 0, 1]
    @test vc.vars["r_s"][1, 1] ≈ 1.8225522160079173 rtol = 1e-10
    @test vc.vars["r_s"][1, 2] ≈ 1.363040868532685 rtol = 1e-10
    @test vc.vars["phi_s"][1, 1] ≈ -1.5851414432461877 atol = 1e-8
    @test vc.vars["phi_s"][1, 2] ≈ -5.354065267796112 atol = 1e-8
    @test vc.vars["t_s"][1, 1] ≈ 1.4511044564856306 atol = 1e-7
    @test vc.vars["t_s"][1, 2] ≈ 13.132417348546785 atol = 1e-7
    @test vc.vars["nu_theta"][1, 1] == 1.0 && vc.vars["nu_theta"][1, 2] == -1.0
    # never on the other hemisphere; α = 0 (λ = 0, over the pole) continuous with α = 1e-9
    @test all(trace_rays(0.94, 30.0, [-0.5264], [0.4559], [0, 1]; surface_theta_deg = 160.0).status
              .== KerrField.STATUS_MISSES)
    p0 = trace_rays(0.94, 30.0, [0.0, 1e-9], [0.5, 0.5], [0]; surface_theta_deg = 20.0)
    @test p0.status[:, 1] == Int8[0, 0]
    @test p0.vars["x"][1, 1] ≈ p0.vars["x"][2, 1] atol = 1e-7
    @test p0.vars["y"][1, 1] ≈ p0.vars["y"][2, 1] atol = 1e-7
    # λ = −α sin θo, η = (α² − a²)cos²θo + β²
    r = trace_rays(0.5, 30.0, [3.0], [4.0], [0])
    @test r.lam[1] ≈ -3 * sind(30.0)
    @test r.eta[1] ≈ (9 - 0.25) * cosd(30.0)^2 + 16
    # a → −a mirrors α (ZAMO flow mirrors too); φ changes sign
    ax = collect(range(-9.0, 9.0; length = 8))
    alpha = vec([x for x in ax, _ in ax])
    beta = vec([y for _ in ax, y in ax]) .+ 0.3
    p = trace_rays(0.7, 50.0, alpha, beta, [0, 1]; velocity = zamo)
    m = trace_rays(-0.7, 50.0, -alpha, beta, [0, 1]; velocity = zamo)
    @test p.status == m.status
    ok = p.status .== 0
    @test count(ok) > 40
    for v in ("r_s", "t_s", "g", "nu_r", "nu_theta")
        @test p.vars[v][ok] ≈ m.vars[v][ok] rtol = 1e-10
    end
    @test p.vars["phi_s"][ok] ≈ -m.vars["phi_s"][ok] rtol = 1e-10
    # θo → 180° − θo with β → −β mirrors the equatorial plane
    q = trace_rays(0.7, 130.0, alpha, -beta, [0, 1]; velocity = zamo)
    p2 = trace_rays(0.7, 50.0, alpha, beta, [0, 1]; velocity = zamo)
    @test q.status == p2.status
    @test q.vars["r_s"][ok] ≈ p2.vars["r_s"][ok] rtol = 1e-10
    @test q.vars["nu_theta"][ok] == -p2.vars["nu_theta"][ok]
    # redshift: ZAMO and Keplerian both redshift (g < 1) for a face-on view at large r
    kep = trace_rays(0.5, 1.0, [15.0], [0.0], [0]; velocity = Velocity(:keplerian, 1.0, 1.0, 1.0))
    @test 0.8 < kep.vars["g"][1, 1] < 1
    # GeneralVelocity(1, 1, 1) is "keplerian"
    gen = trace_rays(0.5, 40.0, alpha, beta, [0]; velocity = Velocity(:general, 1.0, 1.0, 1.0))
    k2 = trace_rays(0.5, 40.0, alpha, beta, [0]; velocity = Velocity(:keplerian, 1.0, 1.0, 1.0))
    @test isequal(gen.vars["g"], k2.vars["g"])
    # λ = 0 exactly (α = 0): rays over the pole keep a finite azimuth (λG_φ → ±π per passage)
    pol = trace_rays(0.94, 17.0, [0.0, 0.0], [-6.0, 6.0], [0, 1])
    okp = pol.status .== 0
    @test any(okp) && all(isfinite, pol.vars["phi_s"][okp])
    # bad input is rejected with a clear message
    @test_throws ArgumentError trace_rays(0.5, 40.0, [NaN], [0.0], [0])
    @test_throws DimensionMismatch trace_rays(0.5, 40.0, [1.0, 2.0], [0.0], [0])
    @test_throws ArgumentError trace_rays(0.5, 40.0, [1.0], [0.0], [0, 0])
    @test_throws ArgumentError trace_rays(1.5, 40.0, [1.0], [0.0], [0])
    @test_throws ArgumentError Velocity(Dict("kind" => "general", "xi" => "1.5"))
    # the threaded result does not depend on the thread count (pure per-pixel kernels)
    @test Threads.nthreads() >= 1
end

end # KerrField
