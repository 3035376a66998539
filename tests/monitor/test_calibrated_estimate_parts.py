"""The parts of the calibrated estimate: profile storage, the pane terms, the gauges and
the start-up warning of a daemon whose reference estimate missed."""

from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from driftd.config import Config, parse_config
from driftd.monitor.layout import Layout
from driftd.reference.build import build_profile
from driftd.reference.calibration import ReferenceCalibration, calibrate_binary
from driftd.reference.profile import Profile, ProfileError, load_profile, make_profile
from driftd.service.daemon import Daemon
from driftd.stats.estimate import expected_accuracy_aggregates

THRESHOLD = 0.3


def config_for(tmp_path: Path, **performance: Any) -> Config:
    return parse_config({
        "models": [{"name": "m", "reference": str(tmp_path / "m.json"),
                    "columns": [{"name": "x", "kind": "numeric"},
                                {"name": "score", "kind": "numeric", "role": "prediction"},
                                {"name": "label", "kind": "categorical", "role": "label"}],
                    "windows": [{"name": "w", "type": "count", "size": 10, "step": 10}],
                    "performance": {"task": "binary", "prediction": "score", "label": "label",
                                    "threshold": THRESHOLD, **performance}}],
        "sources": [{"type": "jsonl", "path": str(tmp_path / "events.jsonl")}],
        "http": {"address": "127.0.0.1:0"},
    }, environ={})


def scores_and_labels(rows: int, seed: int, power: float) -> tuple[np.ndarray, np.ndarray]:
    """Labels ~ Bernoulli(p), p uniform; the model emits p ** power."""
    rng = np.random.default_rng(seed)
    p = rng.random(rows)
    return p ** power, (rng.random(rows) < p).astype(np.float64)


def profile_with(calibration: ReferenceCalibration | None, config: Config) -> Profile:
    rng = np.random.default_rng(0)
    plain = build_profile("m", config.models[0].columns,
                          {"x": rng.normal(size=500), "score": rng.random(500)}, {},
                          rows=500, metadata={"source": "test"})
    return make_profile(plain.model, plain.rows, plain.columns, plain.metadata,
                        {"accuracy": 0.8}, calibration)


# A labelled profile as `reference build` wrote it before calibration existed; its version
# is what that code computed.
OLD_PROFILE = {
    "format": "driftd-profile/1", "model": "m", "rows": 4, "metadata": {},
    "columns": {"city": {"kind": "categorical", "role": "input", "count": 3, "missing": 1,
                         "other": 0, "categories": {"Oslo": 2, "Rome": 1}}},
    "performance": {"accuracy": 0.75},
    "version": "sha256:972e4c66a9a5d9f927ecc5436428a086fc1daf5b793adcd8ed0c239c5050779d",
}


def test_profiles_without_calibration_keep_loading_with_their_version(
        tmp_path: Path) -> None:
    """Steps: load a profile written before calibration existed; build one without
    calibration. Expected: it loads (its content still hashes to its version) and has
    no calibration; a new uncalibrated profile has no "calibration" key in its content."""
    path = tmp_path / "old.json"
    path.write_text(json.dumps(OLD_PROFILE))
    old = load_profile(path)
    assert old.version == OLD_PROFILE["version"] and old.calibration is None
    assert "calibration" not in profile_with(None, config_for(tmp_path)).content()


def test_a_calibrated_profile_round_trips_and_its_version_covers_the_calibration(
        tmp_path: Path) -> None:
    """Steps: calibrate 3,000 distorted scores (p ** 3), save, load; then edit one point
    of the stored curve. Expected: the loaded calibration equals the built one (floats
    exact) under the same version, which differs from the uncalibrated profile's; the
    edited file is refused as not matching its version."""
    config = config_for(tmp_path)
    calibration = calibrate_binary(*scores_and_labels(3000, 1, 3.0), THRESHOLD)
    assert calibration is not None and calibration.applied
    profile = profile_with(calibration, config)
    assert profile.version != profile_with(None, config).version
    path = tmp_path / "m.json"
    profile.save(path)
    loaded = load_profile(path)
    assert loaded.version == profile.version and loaded.calibration == calibration
    raw = json.loads(path.read_text())
    raw["calibration"]["curves"][0]["y"][1] += 1e-9
    path.write_text(json.dumps(raw))
    with pytest.raises(ProfileError, match="does not match its version"):
        load_profile(path)


def test_pane_terms_read_calibrated_scores_and_decide_on_raw_ones(tmp_path: Path) -> None:
    """Steps: the Layout of a calibrated profile (the daemon's and check's path) encodes
    2,000 scores p ** 3. Expected: its expected-confusion sums equal those of the
    calibrated probabilities with the model's raw decisions (score >= 0.3), exactly;
    a profile whose calibration was not applied (the raw scores passed the test) gives
    the raw scores' sums."""
    config = config_for(tmp_path)
    calibration = calibrate_binary(*scores_and_labels(3000, 1, 3.0), THRESHOLD)
    assert calibration is not None
    scores, _ = scores_and_labels(2000, 2, 3.0)
    for applied in (True, False):
        profile = profile_with(replace(calibration, applied=applied), config)
        perf = Layout(config.models[0].columns, profile, config.models[0].performance
                      ).performance
        assert perf is not None
        sums = perf.prediction_rows(scores).sum(axis=0)
        probabilities = calibration.calibration.apply(scores) if applied else scores
        expected = expected_accuracy_aggregates(probabilities, predicted=scores >= THRESHOLD)
        np.testing.assert_allclose(sums[3:9], expected, rtol=1e-12, atol=1e-9)


def missed(calibration: ReferenceCalibration, by: float) -> ReferenceCalibration:
    """The same calibration, as if its estimate had missed the realized accuracy by ``by``."""
    estimated = dict(calibration.estimated)
    estimated["accuracy"] = calibration.realized["accuracy"] + by
    return replace(calibration, estimated=estimated)


def scrape(url: str) -> dict[str, dict[frozenset[tuple[str, str]], float]]:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        text = response.read().decode("utf-8")
    found: dict[str, dict[frozenset[tuple[str, str]], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return found


@pytest.mark.parametrize(("by", "unreliable"), [(0.0, False), (0.05, True)])
def test_the_daemon_exports_the_reference_estimate_and_warns_when_it_missed(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, by: float, unreliable: bool) -> None:
    """Steps: a daemon on a calibrated profile whose reference estimate missed accuracy
    by 0 or by 0.05 (tolerance 0.02; its standard error there is 0.0075). Expected: /metrics has the
    error per metric, the calibration error of raw and calibrated scores, and
    unreliable 0 or 1; a WARNING at start-up naming the model only when unreliable."""
    config = config_for(tmp_path, estimate_tolerance=0.02)
    calibration = calibrate_binary(*scores_and_labels(3000, 1, 3.0), THRESHOLD)
    assert calibration is not None
    calibration = missed(calibration, by)
    with caplog.at_level(logging.WARNING, logger="driftd.service.daemon"):
        daemon = Daemon(config, {"m": profile_with(calibration, config)}, [])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == int(unreliable)
    if unreliable:
        assert warnings[0].startswith("model m: UNRELIABLE") and "accuracy" in warnings[0]
    daemon.http.start()  # only the HTTP server of the daemon: /metrics is all this reads
    try:
        samples = scrape(daemon.http.url)
    finally:
        daemon.http.stop()
    errors = samples["driftd_performance_estimate_reference_error"]
    assert errors[frozenset({("model", "m"), ("metric", "accuracy")})] == pytest.approx(by)
    assert set(errors) == {frozenset({("model", "m"), ("metric", name)})
                           for name in ("accuracy", "precision", "recall", "f1")}
    assert samples["driftd_performance_estimate_unreliable"] == {
        frozenset({("model", "m")}): float(unreliable)}
    assert samples["driftd_reference_calibration_error"] == {
        frozenset({("model", "m"), ("scores", "raw")}): calibration.ece_before,
        frozenset({("model", "m"), ("scores", "calibrated")}): calibration.ece_after}
