"""The prose docs agree with the code: every Sphinx cross-reference names a documented public
object, and the configuration table quotes the code's defaults.

The API reference is generated for the flat ``kerrfield.*`` namespace only, and Sphinx (not
nitpicky) renders an unresolved ``{func}`kerrfield.vlbi.x``` as plain text without a
warning, so a reference to a submodule path silently loses its link.
"""

from __future__ import annotations

import re
from pathlib import Path

import kerrfield

DOCS = Path(__file__).parents[2] / "docs"
ROLE = re.compile(r"\{(?:func|class|mod|meth|attr|data|obj)\}`~?([^`<]+?)(?:\s*<([^>]+)>)?`")


def test_every_role_target_is_a_public_kerrfield_name():
    public = set(kerrfield.__all__)
    bad = []
    for md in sorted(DOCS.rglob("*.md")):
        if "_build" in md.parts:
            continue
        for m in ROLE.finditer(md.read_text(encoding="utf-8")):
            target = (m.group(2) or m.group(1)).strip().lstrip("~")
            parts = target.split(".")
            ok = parts[0] == "kerrfield" and len(parts) >= 2 and parts[1] in public
            if len(parts) > 2 and ok:  # a method or attribute of a public class
                ok = hasattr(getattr(kerrfield, parts[1]), parts[2])
            if not ok:
                bad.append(f"{md.relative_to(DOCS)}: {m.group(0)}")
    assert not bad, "references without an API page:\n" + "\n".join(bad)


def test_search_defaults_in_the_configuration_table_match_the_code():
    """docs/inference.md's `[search]` row quotes each default; they drift when changed."""
    from kerrfield.fitting.config_sections import _SEARCH_KEYS

    row = next(line for line in (DOCS / "inference.md").read_text(encoding="utf-8").splitlines()
               if line.startswith("| `[search]` |"))
    quoted = dict(re.findall(r"`(\w+)` \(([^);]+)", row.split("|")[2]))
    assert set(quoted) >= set(_SEARCH_KEYS)
    for key, (default, *_rest) in _SEARCH_KEYS.items():
        assert float(quoted[key]) == float(default), (key, quoted[key], default)
