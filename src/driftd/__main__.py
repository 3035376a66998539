"""Allow ``python -m driftd``."""

from __future__ import annotations

from driftd.cli import main

raise SystemExit(main())
