"""Every Sphinx cross-reference in the prose docs names a documented public object.

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
