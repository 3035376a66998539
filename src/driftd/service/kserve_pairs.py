"""KServe payload-logger CloudEvents paired into rows: the request and the response of one
inference share their CE id, and either may come first.

A half is read with ``driftd.oip.payload`` (KServe V1 ``instances``/``predictions`` or
V2 ``inputs``/``outputs``), waits in a ``driftd.oip.pairing.Pairing`` (state in the
checkpoint database), and a completed pair becomes one event object per row
(``driftd.oip.rows``): ``{"model", "id", "ts", "instance", "prediction"}`` for V1,
``inputs``/``outputs`` for V2. The model is the source's ``model`` setting, else the
CE extension ``inferenceservicename``, else the payload's ``model_name``; there is one
pairing per inference service. A logger in mode ``request`` (``logger_mode``) sends
requests only: each becomes its rows at once, with inputs only. A half's time is when
driftd received it (kept in the spool, so a replay pairs alike); a row's time is its
request's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from driftd.events import Rejection
from driftd.oip.pairing import Half, HalfStore, Pairing
from driftd.oip.payload import Payload, PayloadError, Role, parse
from driftd.oip.rows import pair_rows
from driftd.service.paired_rows import add_paired
from driftd.service.pipeline import Translated
from driftd.values import clip

SERVICE = "ce-inferenceservicename"  # KServe's CloudEvents extension attribute
MAX_ID_CHARS = 512


@dataclass(frozen=True, slots=True)
class Settings:
    """How halves wait, and what a lone request becomes (``unpaired_requests``)."""

    timeout_seconds: float = 60.0
    max_pending: int = 100_000
    model: str | None = None
    lone_requests_count: bool = False  # unpaired_requests: inputs
    alone: str | None = None  # logger_mode request or response: that half makes rows alone


class KServePairs:
    """The pairings of one HTTP ingest source, by inference service."""

    def __init__(self, name: str, store: HalfStore, settings: Settings) -> None:
        self._name, self._store, self._settings = name, store, settings
        self._pairings: dict[str, Pairing] = {}

    def add(self, found: Translated, role: Role, headers: Mapping[str, bytes], body: bytes,
            time: float, origin: str) -> None:
        """Take one half; the rows of the inference it completes go to ``found``, and so
        does a rejection for a half that cannot be read or paired."""
        def reject(reason: str, detail: str) -> None:
            found.rejections.append(Rejection(reason, detail, origin, body))

        event_id = headers.get("ce-id", b"").decode("utf-8", "replace")
        if len(event_id) > MAX_ID_CHARS:
            reject("missing_request_id", f"a CE id of {len(event_id)} characters "
                   f"(max {MAX_ID_CHARS})")
            return
        try:
            payload = parse(body, "auto", role)
        except (PayloadError, RecursionError, ValueError) as error:
            reject("oip_undecodable", f"{role}: {clip(str(error), 200)}")
            return
        service = headers.get(SERVICE, b"").decode("utf-8", "replace")
        if self._settings.alone is not None:
            self._alone(found, role, payload, event_id, service, time, origin, body)
            return
        half = Half(event_id, role, payload, time, origin, body, "auto")
        add_paired(self._pairing(service).add([half]), found,
                   model=self._settings.model or service or None,
                   lone_requests_count=self._settings.lone_requests_count)

    def _alone(self, found: Translated, role: Role, payload: Payload, event_id: str,
               service: str, time: float, origin: str, body: bytes) -> None:
        """A logger that sends one half only: its rows at once, the other half refused."""
        if role != self._settings.alone:
            found.rejections.append(Rejection(
                f"unpaired_{role}", f"{role} {event_id}: logger_mode is "
                f"{self._settings.alone}", origin, body))
            return
        rows = pair_rows(*((payload, None) if role == "request" else (None, payload)),
                         request_id=event_id, ts=time,
                         model=self._settings.model or service or None)
        found.objects += rows
        found.origins += [origin] * len(rows)

    def _pairing(self, service: str) -> Pairing:
        pairing = self._pairings.get(service)
        if pairing is None:  # restores the halves this service left waiting
            pairing = self._pairings[service] = Pairing(
                f"{self._name}/{service}", self._store,
                timeout_seconds=self._settings.timeout_seconds,
                max_pending=self._settings.max_pending)
        return pairing
