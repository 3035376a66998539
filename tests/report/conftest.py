"""One headless Chromium per test module (starting one takes about a second)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from report.chromium import Browser, browser


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with browser() as running:
        yield running
