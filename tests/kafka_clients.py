"""Closing kafka-python clients in tests without leaking ResourceWarnings into others."""

from __future__ import annotations

import gc
import warnings
from typing import Any


def close_kafka_client(client: Any, **kwargs: Any) -> None:
    """Close a kafka-python client, then collect the sockets it may leave behind.

    kafka-python 3.0.12 can leave a socket of a closed client unreferenced but open.
    The garbage collector then closes it with a ResourceWarning, an error under
    filterwarnings=error, in whichever later test it happens to run. Collecting right
    here, with that warning ignored, keeps the leak from failing an unrelated test.
    """
    try:
        client.close(**kwargs)
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
