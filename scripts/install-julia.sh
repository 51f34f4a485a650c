#!/usr/bin/env bash
# Install a Julia that kerrfield's Julia backend can use.  Idempotent and non-interactive.
#
#   bash scripts/install-julia.sh        (also: make julia; .ci/run calls it under CI=true)
#
# What it does, in order:
#   1. If $KERRFIELD_JULIA names a working julia, or a working `julia` is on PATH: nothing.
#      "Working" means it survives `julia -e 'try sqrt(-1.0) catch end'` (see 3.).
#   2. Otherwise, on Debian/Ubuntu as root with apt-get: Debian 12 ships no Julia, Debian 11
#      (bullseye) ships julia 1.5.3.  apt gets a *private* configuration (in a temporary
#      directory; nothing under /etc/apt is changed) that adds the bullseye suite from the same
#      mirror as the configured Debian sources, pinned at priority 100 so that nothing else is
#      taken from bullseye and nothing is downgraded, and `apt-get install julia/bullseye` runs.
#   3. Julia 1.5.3 segfaults with Debian 12's libunwind8 1.6.2 whenever Base code throws inside
#      try/catch.  bullseye's libunwind.so.8 is extracted from its .deb into
#      /usr/lib/x86_64-linux-gnu/julia/ (libjulia searches its private directory first).
#   4. The result is verified with the try/catch one-liner.
# Without root/apt it prints how to get Julia and exits 0, except under CI=true, where a Julia
# that cannot be installed is an error (exit 1).
set -euo pipefail

log() { printf 'install-julia: %s\n' "$*"; }

ci_mode() { [ "${CI:-}" = "true" ] || [ "${CI:-}" = "1" ]; }

CHECK_EXPR='try sqrt(-1.0) catch end'

# julia_works EXE: exit 0 when EXE runs and survives an exception thrown by Base in try/catch
julia_works() {
    local exe=$1
    [ -n "$exe" ] && command -v "$exe" >/dev/null 2>&1 || return 1
    # in a subshell with stderr discarded, so that a segfault does not make bash print a notice
    ( "$exe" --startup-file=no -e "$CHECK_EXPR" >/dev/null 2>&1; exit $? ) 2>/dev/null
}

julia_version() { "$1" --startup-file=no -e 'print(VERSION)' 2>/dev/null || echo '?'; }

how_to_get_julia() {
    cat <<'EOF'
install-julia: Julia is needed only for kerrfield's optional Julia backend (backend="julia").
  Ways to get it:
   * juliaup (recommended, any OS):  curl -fsSL https://install.julialang.org | sh
   * pip install "kerrfield[julia]"  (juliacall downloads a Julia on first use; needs network)
   * on an HPC cluster:              module load julia
   * Debian 12 as root:              bash scripts/install-julia.sh   (uses bullseye's julia 1.5.3)
  Then put `julia` on PATH or export KERRFIELD_JULIA=/path/to/julia.
EOF
}

give_up() {
    log "ERROR: $*"
    how_to_get_julia
    if ci_mode; then
        log "CI=true: a Julia is required under CI; failing."
        exit 1
    fi
    exit 0
}

# ---------------------------------------------------------------- 1. already there?
if [ -n "${KERRFIELD_JULIA:-}" ]; then
    if julia_works "$KERRFIELD_JULIA"; then
        log "KERRFIELD_JULIA=$KERRFIELD_JULIA works (Julia $(julia_version "$KERRFIELD_JULIA")); nothing to do."
        exit 0
    fi
    log "KERRFIELD_JULIA=$KERRFIELD_JULIA does not work; trying julia on PATH / installing."
fi
if julia_works julia; then
    log "$(command -v julia) works (Julia $(julia_version julia)); nothing to do."
    exit 0
fi

# ---------------------------------------------------------------- 2. can we install?
if [ "$(id -u)" != 0 ]; then
    give_up "no working julia found, and not root (cannot use apt-get)."
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
    give_up "no working julia found, and no apt-get/dpkg-deb on this machine."
fi
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "x86_64-linux-gnu")
if [ "$arch" != amd64 ]; then
    give_up "automatic installation is only set up for amd64 (this is $arch)."
fi

# The Debian mirror: the URI of the configured entry serving this release's codename
# (deb822 *.sources or one-line *.list); bullseye is fetched from the same mirror.
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
find_mirror() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v c="$codename" '$1 == "deb" {
                i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                if ($(i+1) == c) { print $i; exit } }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v c="$codename" 'BEGIN { RS = ""; FS = "\n" } {
                uri = ""; ok = 0; deb = 0; en = 1
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/)    { split($i, u, /[ \t]+/); uri = u[2] }
                    if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb = 1
                    if ($i ~ /^Enabled:[ \t]*no/) en = 0
                    if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/)
                        for (j = 2; j <= n; j++) if (s[j] == c) ok = 1 }
                }
                if (ok && deb && en && uri != "") { print uri; exit } }' "$f"
    done
}
mirror=$(find_mirror | head -n 1)
if [ -z "$codename" ] || [ -z "$mirror" ]; then
    give_up "could not find the Debian mirror for release '${codename:-?}' in /etc/apt/sources.list*."
fi
mirror=${mirror%/}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || give_up "missing $keyring (package debian-archive-keyring)."

t0=$(date +%s)
priv=$(mktemp -d /tmp/kerrfield-apt.XXXXXX)
trap 'rm -rf "$priv"' EXIT
mkdir -p "$priv/sources.list.d" "$priv/preferences.d" "$priv/lists/partial" "$priv/debs"
chmod 0755 "$priv"
# apt downloads as the unprivileged _apt user where that user exists
if id _apt >/dev/null 2>&1; then chown _apt "$priv/lists/partial" "$priv/debs"; fi
# the system's sources and preferences, unchanged, plus bullseye at priority 100
for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && ln -s "$f" "$priv/sources.list.d/"
done
for f in /etc/apt/preferences.d/*; do
    [ -f "$f" ] && ln -s "$f" "$priv/preferences.d/"
done
cat >"$priv/sources.list.d/zz-kerrfield-bullseye.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bullseye
Components: main
Signed-By: $keyring
EOF
cat >"$priv/preferences.d/zz-kerrfield-bullseye" <<EOF
Package: *
Pin: release n=bullseye
Pin-Priority: 100
EOF
apt_private=(
    -o "Dir::Etc::SourceParts=$priv/sources.list.d"
    -o "Dir::Etc::PreferencesParts=$priv/preferences.d"
    -o "Dir::State::Lists=$priv/lists"
    -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
    -o "APT::Get::List-Cleanup=false"
)
export DEBIAN_FRONTEND=noninteractive

log "installing julia 1.5.3 from Debian bullseye ($mirror, pinned at 100; private apt config in $priv)"
apt-get "${apt_private[@]}" -qq update
apt-get "${apt_private[@]}" -y -q --no-install-recommends install julia/bullseye 2>&1 \
    | grep -E '^(Selected|Setting up|Unpacking|E:|W:)|newly installed' || true
command -v julia >/dev/null 2>&1 || give_up "apt-get install julia/bullseye failed."

# ---------------------------------------------------------------- 3. libunwind fix
jl_libdir=/usr/lib/$multiarch/julia
if ! julia_works julia; then
    log "julia $(julia_version julia) crashes in try/catch with the system libunwind;" \
        "putting bullseye's libunwind.so.8 into $jl_libdir"
    (cd "$priv/debs" && apt-get "${apt_private[@]}" -qq download libunwind8/bullseye)
    deb=$(ls "$priv"/debs/libunwind8_*.deb | head -n 1)
    dpkg-deb -x "$deb" "$priv/unwind"
    so=$(find "$priv/unwind" -name 'libunwind.so.8*' -type f | head -n 1)
    [ -n "$so" ] || give_up "no libunwind.so.8 inside $deb"
    mkdir -p "$jl_libdir"
    install -m 0644 "$so" "$jl_libdir/$(basename "$so")"
    ln -sf "$(basename "$so")" "$jl_libdir/libunwind.so.8"
    log "installed $(basename "$deb") -> $jl_libdir/libunwind.so.8"
fi

# ---------------------------------------------------------------- 4. verify
if julia_works julia; then
    log "OK: $(command -v julia) (Julia $(julia_version julia)) passes \`julia -e '$CHECK_EXPR'\`" \
        "($(($(date +%s) - t0)) s)"
    exit 0
fi
give_up "$(command -v julia) still fails \`julia -e '$CHECK_EXPR'\`."
