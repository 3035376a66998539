"""The http source's settings: what a config must say, and what preflight checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from driftd.config import ConfigError, parse_config
from driftd.preflight import path_problems
from http_ingest.support import config


def problems(tmp_path: Path, change: dict[str, Any], *, checkpoint: bool = True) -> list[str]:
    raw = config(tmp_path).model_dump(mode="json", exclude_none=True)
    raw["sources"][0] |= change
    raw["sources"][0] = {k: v for k, v in raw["sources"][0].items() if v is not None}
    if not checkpoint:
        raw.pop("checkpoint")
    try:
        parse_config(raw, source="<test>", environ={})
    except ConfigError as error:
        return error.problems
    return []


def test_a_valid_http_source_has_no_problems(tmp_path: Path) -> None:
    """The helper's config: listen 127.0.0.1:0, a spool directory, a checkpoint."""
    assert problems(tmp_path, {}) == []
    assert path_problems(config(tmp_path)) == []


@pytest.mark.parametrize(("change", "checkpoint", "expected"), [
    ({}, False, "checkpoint.path: an http source needs checkpoint.path"),
    ({"spool_dir": None}, True, "sources.0.spool_dir: Field required"),
    ({"listen": "9110"}, True, "listen must be host:port"),
    ({"max_body_bytes": 2048, "max_queue_bytes": 1024}, True,
     "max_body_bytes (2048) must not exceed max_queue_bytes (1024)"),
    ({"pair_timeout_seconds": 0}, True, "sources.0.pair_timeout_seconds"),
])
def test_bad_settings_name_the_field(tmp_path: Path, change: dict[str, Any], checkpoint: bool,
                                     expected: str) -> None:
    """No checkpoint, no spool directory (a None here: left out), a listen address
    without a host, a body larger than the queue, a pairing timeout of 0.

    Expected: one problem line naming the field and what is wrong.
    """
    found = problems(tmp_path, change, checkpoint=checkpoint)
    assert len(found) == 1 and expected in found[0], found


def test_preflight_checks_the_spool_directory_and_the_token_file(tmp_path: Path) -> None:
    """The spool directory is a file; the token file is missing, then empty.

    Expected: a problem for each, naming sources.0.spool_dir and
    sources.0.bearer_token_file.
    """
    (tmp_path / "spool").write_text("not a directory")
    raw = config(tmp_path).model_dump(mode="json", exclude_none=True)
    raw["sources"][0]["bearer_token_file"] = str(tmp_path / "token")
    found = path_problems(parse_config(raw, source="<test>", environ={}))
    assert [p.split(":")[0] for p in found] == ["sources.0.spool_dir",
                                                "sources.0.bearer_token_file"]
    (tmp_path / "token").write_text("\n")
    found = path_problems(parse_config(raw, source="<test>", environ={}))
    assert "is empty" in found[1]
