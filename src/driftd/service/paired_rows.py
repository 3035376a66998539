"""What a pairing's outcome becomes for the decoder: each pair its rows, each half given
up on a rejection (or, where lone requests count, its rows with inputs only). Shared by
the Seldon topics (``oip_topics``) and the KServe CloudEvents (``kserve_pairs``)."""

from __future__ import annotations

from driftd.events import Rejection
from driftd.oip.pairing import Paired
from driftd.oip.rows import RowMismatch, pair_rows
from driftd.service.pipeline import Translated


def add_paired(paired: Paired, out: Translated, *, model: str | None,
               lone_requests_count: bool) -> None:
    """Append the rows of ``paired``'s pairs to ``out`` (a request whose response has
    another row count is rejected as ``oip_rows_mismatch``), and its unpaired halves
    as rejections under their reason, or, for an unpaired request when
    ``lone_requests_count``, as rows with inputs only."""
    for pair in paired.pairs:
        try:
            rows = pair_rows(pair.request.payload, pair.response.payload,
                             request_id=pair.request.id, ts=pair.request.time, model=model)
        except RowMismatch as error:
            out.rejections.append(Rejection(
                "oip_rows_mismatch", f"{error} (response at {pair.response.origin})",
                pair.request.origin, pair.request.raw))
            continue
        out.objects += rows
        out.origins += [pair.request.origin] * len(rows)
    for unpaired in paired.unpaired:
        half = unpaired.half
        if unpaired.reason == "unpaired_request" and lone_requests_count:
            rows = pair_rows(half.payload, None, request_id=half.id, ts=half.time,
                             model=model)
            out.objects += rows
            out.origins += [half.origin] * len(rows)
        else:
            out.rejections.append(Rejection(unpaired.reason, unpaired.detail, half.origin,
                                            half.raw))
