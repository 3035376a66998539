"""driftd: a production model-drift monitoring daemon."""

from __future__ import annotations

__version__ = "0.1.0"
