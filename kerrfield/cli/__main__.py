"""``python -m kerrfield.cli``."""

from . import main

raise SystemExit(main())
