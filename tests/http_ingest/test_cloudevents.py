"""KServe payload-logger CloudEvents over HTTP: binary, structured and batched mode,
request and response in either order, paired by CE id into the rows of flat events."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from driftd.config import Config, parse_config
from driftd.config.http import HttpSourceConfig
from driftd.oip.pairing import MemoryHalves
from driftd.service.http_translator import http_translator
from driftd.sources.base import RawBatch
from driftd.sources.jsonl import JsonlSource
from driftd.telemetry import counted
from http_ingest.support import config, events, jsonl, post, running, wait_for
from http_ingest.test_daemon_ingest import statistics

REQUEST = "org.kubeflow.serving.inference.request"
RESPONSE = "org.kubeflow.serving.inference.response"
ROWS = 5  # rows per inference


def kserve_config(tmp_path: Path, **source: Any) -> Config:
    """The demo model with its inputs read from KServe V1 rows (``instance.<name>``);
    the prediction is at ``prediction`` in both shapes."""
    raw = config(tmp_path, source=source).model_dump(mode="json", exclude_none=True)
    for column in raw["models"][0]["columns"]:
        if column.get("role", "input") == "input":
            column["path"] = f"instance.{column['name']}"
    return parse_config(raw, source="<test>", environ={})


def inference(number: int) -> tuple[str, bytes, bytes, list[dict[str, Any]]]:
    """CE id, V1 request and response bodies of ``ROWS`` demo rows, and the rows as flat
    driftd events."""
    flat = events(number * ROWS, ROWS)
    request = orjson.dumps({"instances": [e["features"] for e in flat]})
    response = orjson.dumps({"predictions": [e["prediction"] for e in flat]})
    return f"inf-{number}", request, response, flat


def binary(event_id: str, kind: str) -> dict[str, str]:
    return {"ce-id": event_id, "ce-type": kind, "ce-source": "http://localhost:9081/",
            "ce-specversion": "1.0", "ce-inferenceservicename": "demo",
            "ce-namespace": "default", "ce-component": "predictor", "ce-endpoint": "",
            "Content-Type": "application/json"}


def structured(event_id: str, kind: str, body: bytes, *, base64_data: bool = False,
               ) -> dict[str, Any]:
    event: dict[str, Any] = {"specversion": "1.0", "id": event_id, "type": kind,
                             "source": "http://localhost:9081/",
                             "inferenceservicename": "demo",
                             "datacontenttype": "application/json"}
    if base64_data:
        event["data_base64"] = base64.b64encode(body).decode()
    else:
        event["data"] = orjson.loads(body)
    return event


def send_all(port: int, count: int) -> list[dict[str, Any]]:
    """``count`` inferences in four manners, by number: binary request then response;
    binary response then request; structured request then response; one batch holding
    the response (base64 data) and then the request. Returns the flat rows in order."""
    rows: list[dict[str, Any]] = []
    for number in range(count):
        event_id, request, response, flat = inference(number)
        manner = number % 4
        if manner in (0, 1):
            halves = [(REQUEST, request), (RESPONSE, response)][::1 if manner == 0 else -1]
            for kind, body in halves:
                assert post(port, "/", body, binary(event_id, kind))[0] == 202
        elif manner == 2:
            for kind, body in ((REQUEST, request), (RESPONSE, response)):
                assert post(port, "/cloudevents", orjson.dumps(structured(event_id, kind, body)),
                            {"Content-Type": "application/cloudevents+json"})[0] == 202
        else:
            batch = [structured(event_id, RESPONSE, response, base64_data=True),
                     structured(event_id, REQUEST, request)]
            assert post(port, "/", orjson.dumps(batch),
                        {"Content-Type": "application/cloudevents-batch+json"})[0] == 202
        rows += flat
    return rows


def test_kserve_cloudevents_give_the_windows_of_the_same_flat_events(tmp_path: Path) -> None:
    """200 inferences of 5 rows are posted as KServe's logger would (and in structured
    and batched mode), request and response in either order.

    Expected: every post 202; 1,000 rows counted; the two windows of 500 equal, number
    for number, those of a daemon reading the same rows as flat JSON events from a
    file; no half is left waiting and nothing is rejected.
    """
    with running(kserve_config(tmp_path)) as daemon:
        rows = send_all(daemon.source.port, 200)
        wait_for(lambda: len(daemon.windows()) == 2,
                 lambda: f"{daemon.counted()} rows, {len(daemon.windows())} windows")
        paired = statistics(daemon.windows())
        snapshot = daemon.daemon.telemetry.snapshot()
    assert counted(snapshot.invalid) == {} and sum(snapshot.events.values()) == 1000
    path = tmp_path / "flat" / "events.jsonl"
    path.parent.mkdir()
    path.write_bytes(jsonl(rows))
    with running(config(path.parent), [JsonlSource(str(path))]) as flat:
        wait_for(lambda: len(flat.windows()) == 2, lambda: f"{len(flat.windows())} windows")
    assert paired == statistics(flat.windows())


def test_halves_waiting_at_a_restart_pair_after_it(tmp_path: Path) -> None:
    """100 requests are posted; the daemon stops (checkpoint) before any response; it
    starts again and the 100 responses are posted, in reverse order.

    Expected: the first run counts no row; the second counts 500 rows: the requests
    waited in the checkpoint database.
    """
    cfg = kserve_config(tmp_path)
    exchanges = [inference(n) for n in range(100)]
    with running(cfg) as daemon:
        for event_id, request, _, _ in exchanges:
            assert post(daemon.source.port, "/", request,
                        binary(event_id, REQUEST))[0] == 202
        wait_for(lambda: daemon.source.drained(), lambda: "the spool was not read")
    assert daemon.counted() == 0
    with running(cfg) as daemon:
        for event_id, _, response, _ in reversed(exchanges):
            assert post(daemon.source.port, "/", response,
                        binary(event_id, RESPONSE))[0] == 202
        wait_for(lambda: daemon.counted() == 500, lambda: f"{daemon.counted()} rows")
        assert counted(daemon.daemon.telemetry.snapshot().invalid) == {}


def translate(cfg: Config, bodies: list[tuple[dict[str, str], bytes]],
              times: list[float] | None = None) -> Any:
    spec = cfg.sources[0]
    assert isinstance(spec, HttpSourceConfig)
    translator = http_translator(cfg, spec, MemoryHalves())
    raw = RawBatch("predictions", [b for _, b in bodies],
                   [f"http@{i}" for i in range(len(bodies))], key=spec.source_name,
                   headers=[{k.lower(): v.encode() for k, v in h.items()} for h, _ in bodies],
                   times=times or [float(i) for i in range(len(bodies))])
    return translator.translate(raw, now=0.0)


def test_a_request_without_its_response_is_counted_unpaired(tmp_path: Path) -> None:
    """pair_timeout_seconds 10: request a at time 0; then request and response b at 1
    and 2, and c at 30 and 31 (received times).

    Expected: b and c pair (10 rows); a is rejected as unpaired_request once the
    pairing clock has passed 10 s beyond it; with unpaired_requests: inputs its rows
    count instead, with inputs only.
    """
    halves = []
    for event_id, (request, response) in (("a", inference(0)[1:3]), ("b", inference(1)[1:3]),
                                          ("c", inference(2)[1:3])):
        halves.append((binary(event_id, REQUEST), request))
        if event_id != "a":
            halves.append((binary(event_id, RESPONSE), response))
    times = [0.0, 1.0, 2.0, 30.0, 31.0]
    found = translate(kserve_config(tmp_path, pair_timeout_seconds=10), halves, times)
    assert [r.reason for r in found.rejections] == ["unpaired_request"]
    assert found.rejections[0].origin == "http@0"
    assert [o["id"] for o in found.objects] == [f"{x}:{r}" for x in "bc" for r in range(5)]
    assert found.holds
    lone = translate(kserve_config(tmp_path, pair_timeout_seconds=10,
                                   unpaired_requests="inputs"), halves, times)
    assert lone.rejections == [] and len(lone.objects) == 15
    assert "prediction" not in next(o for o in lone.objects if o["request_id"] == "a")


def test_a_logger_in_mode_request_makes_rows_of_each_request(tmp_path: Path) -> None:
    """logger_mode request: two requests, and a response by mistake.

    Expected: 10 rows at once, each with its instance and no prediction; the response
    rejected as unpaired_response.
    """
    (_, first, response, _), (_, second, _, _) = inference(0), inference(1)
    found = translate(kserve_config(tmp_path, logger_mode="request"), [
        (binary("a", REQUEST), first), (binary("b", REQUEST), second),
        (binary("a", RESPONSE), response)])
    assert len(found.objects) == 10 and all("prediction" not in o for o in found.objects)
    assert [r.reason for r in found.rejections] == ["unpaired_response"]


def test_a_cloudevent_of_another_type_carries_driftd_events(tmp_path: Path) -> None:
    """A CE of type com.example.scored whose data is an array of two driftd events
    (binary mode), and one in structured mode with one event as data.

    Expected: 202 each; the daemon counts 3 events.
    """
    two, one = events(0, 2), events(2, 1)[0]
    with running(config(tmp_path)) as daemon:
        headers = binary(str(uuid.uuid4()), "com.example.scored")
        assert post(daemon.source.port, "/", orjson.dumps(two), headers)[0] == 202
        event = {"specversion": "1.0", "id": "x", "type": "com.example.scored",
                 "source": "/scorer", "data": one}
        assert post(daemon.source.port, "/", orjson.dumps(event),
                    {"Content-Type": "application/cloudevents+json"})[0] == 202
        wait_for(lambda: daemon.counted() == 3, lambda: f"{daemon.counted()} events")


@pytest.mark.parametrize(("body", "headers", "reason"), [
    (b"{}", {"ce-id": "1", "ce-specversion": "1.0"}, "missing_attribute"),
    (b"{}", {"ce-id": "1", "ce-type": REQUEST, "ce-source": "/", "ce-specversion": "2.0"},
     "missing_attribute"),
    (b'{"specversion": "1.0", "id": "1", "type": "t"}',
     {"Content-Type": "application/cloudevents+json"}, "missing_attribute"),
    (b"{not json", {"Content-Type": "application/cloudevents+json"}, "malformed_json"),
    (b'{"id": "1"}', {"Content-Type": "application/cloudevents-batch+json"},
     "missing_attribute"),
    (b"not json", {"ce-id": "1", "ce-type": "com.example.scored", "ce-source": "/",
                   "ce-specversion": "1.0"}, "malformed_json"),
])
def test_a_cloudevent_without_its_attributes_is_400(tmp_path: Path, body: bytes,
                                                    headers: dict[str, str],
                                                    reason: str) -> None:
    """Binary mode without ce-type and ce-source, with specversion 2.0; structured
    without source; structured that is not JSON; a batch that is no array; a CE of
    another type whose data is not JSON.

    Expected: 400, counted under its reason; nothing spooled.
    """
    with running(config(tmp_path)) as daemon:
        status, _, text = post(daemon.source.port, "/", body, headers)
        assert status == 400, text
        assert counted(daemon.daemon.telemetry.snapshot().invalid) == {reason: 1}
        assert daemon.source.queued() == 0
