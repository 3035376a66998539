"""A small `driftd run` config for the web tests: one model on a JSONL source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kafka_e2e.support import workload, write_profile


def write_driftd_config(directory: Path, *, address: str, source: str = "-",
                        http: dict[str, Any] | None = None) -> Path:
    """driftd.yaml in ``directory``: model bench, a count window, JSONL from ``source``
    (``-``: stdin, which keeps the daemon running while the pipe is open)."""
    profile = directory / "bench.json"
    write_profile(profile, workload.columns(), rows=2000)
    raw = {
        "models": [{"name": "bench", "reference": str(profile),
                    "columns": [c.model_dump(exclude_defaults=True) | {"kind": c.kind}
                                for c in workload.columns()],
                    "windows": [{"name": "all", "type": "count", "size": 500, "step": 500}]}],
        "sources": [{"type": "jsonl", "path": source}],
        "http": {"address": address, **(http or {})},
        "ingest": {"max_future_seconds": None},
    }
    path = directory / "driftd.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path
