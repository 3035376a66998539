"""Scenarios for loading and validating the driftd config (``driftd.config``)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from driftd import config as cfg

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "driftd.example.yaml"

MINIMAL: dict[str, Any] = {
    "models": [
        {
            "name": "fraud",
            "reference": "profiles/fraud.json",
            "columns": [
                {"name": "amount", "kind": "numeric"},
                {"name": "country", "kind": "categorical"},
                {"name": "label", "kind": "categorical", "role": "label"},
            ],
            "windows": [{"name": "last-100", "type": "count", "size": 100, "step": 10}],
        }
    ],
    "sources": [{"type": "jsonl", "path": "events.jsonl"}],
}

Raw = dict[str, Any]


@pytest.fixture
def make_raw() -> Callable[..., Raw]:
    """A fresh valid config document; keyword arguments replace top-level sections."""

    def make(**sections: Any) -> Raw:
        raw = copy.deepcopy(MINIMAL)
        raw.update(sections)
        return raw

    return make


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[Raw], Path]:
    """Write a document as YAML to ``tmp_path/etc/driftd.yaml`` and return its path."""

    def write(raw: Raw) -> Path:
        path = tmp_path / "etc" / "driftd.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump(raw), encoding="utf-8")
        return path

    return write


def problems_of(raw: Any, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(cfg.ConfigError) as caught:
        cfg.parse_config(raw, environ={} if environ is None else environ)
    return caught.value.problems


def model0(raw: Raw) -> dict[str, Any]:
    model: dict[str, Any] = raw["models"][0]
    return model


# --- the example ---------------------------------------------------------------------


def test_example_file_loads_with_every_section() -> None:
    """The shipped example is valid and says what its comments say.

    Steps: load config/driftd.example.yaml without environment overrides.
    Expected: one model "fraud" v3 with six columns, two windows, per-column test
    overrides on top of the default tests, holm correction, binary performance, a
    Kafka source of predictions and outcomes, and paths resolved next to the file.
    """
    config = cfg.load_config(EXAMPLE, environ={})

    fraud = config.model("fraud")
    assert fraud.version == "3"
    assert fraud.reference == EXAMPLE.parent / "profiles" / "fraud.json"
    assert [(c.name, c.kind, c.role) for c in fraud.columns] == [
        ("amount", "numeric", "input"),
        ("merchant_category", "categorical", "input"),
        ("country", "categorical", "input"),
        ("account_age_days", "numeric", "input"),
        ("score", "numeric", "prediction"),
        ("label", "categorical", "label"),
    ]
    assert [c.name for c in fraud.monitored_columns] == [
        "amount",
        "merchant_category",
        "country",
        "account_age_days",
        "score",
    ]
    count, time = fraud.windows
    assert isinstance(count, cfg.CountWindowConfig)
    assert (count.name, count.size, count.step) == ("last-10k", 10_000, 1_000)
    assert isinstance(time, cfg.TimeWindowConfig)
    assert (time.name, time.duration_seconds, time.slide_seconds) == ("1h", 3600, 300)
    assert (time.allowed_lateness_seconds, time.panes) == (120, 12)
    assert fraud.tests == cfg.TestsConfig()  # the example shows the defaults
    assert fraud.correction == "holm"

    assert fraud.performance is not None and fraud.performance.tolerance == {"accuracy": 0.02}
    assert fraud.alerts.no_events_seconds == 600
    source = config.sources[0]
    assert isinstance(source, cfg.KafkaSourceConfig)
    assert [(t.name, t.stream) for t in source.topics] == [
        ("fraud.predictions", "predictions"), ("fraud.outcomes", "outcomes")]
    assert config.alerts == cfg.AlertsConfig()  # the example shows the defaults
    assert config.http.address == "127.0.0.1:9108"
    assert config.checkpoint.path == EXAMPLE.parent / "var" / "driftd-state.sqlite"
    assert config.logging.level == "INFO"


def test_example_per_column_overrides_replace_the_model_tests() -> None:
    """Steps: ask the example's model which test settings apply to three columns.

    Expected: amount uses its own psi and ks settings, account_age_days its own
    missing threshold, and every other test/column the model-level defaults.
    """
    fraud = cfg.load_config(EXAMPLE, environ={}).model("fraud")
    amount, merchant, _, age, _, _ = fraud.columns

    assert fraud.test_for(amount, "psi").threshold == 0.3
    assert fraud.test_for(amount, "ks").alpha == 0.001
    assert fraud.test_for(amount, "js") == fraud.tests.js
    assert fraud.test_for(age, "missing").threshold == 0.2
    assert fraud.test_for(merchant, "psi").threshold == 0.2
    assert fraud.test_for(merchant, "chi2").alpha == 0.01


def test_minimal_config_gets_documented_defaults(make_raw: Callable[..., Raw]) -> None:
    """Steps: validate a config with only the required fields.

    Expected: the defaults of the docs (http on 127.0.0.1:9108, holm, no checkpoint,
    PSI > 0.2 and KS/chi2 p < 0.01 decisions, inputs read from features.<name>).
    """
    config = cfg.parse_config(make_raw(), environ={})

    assert (config.http.host, config.http.port) == ("127.0.0.1", 9108)
    assert config.checkpoint.path is None
    assert config.evaluation.interval_seconds == 10
    fraud = config.models[0]
    assert fraud.correction == "holm"
    assert (fraud.tests.psi.decision, fraud.tests.psi.threshold) == ("threshold", 0.2)
    assert (fraud.tests.ks.decision, fraud.tests.ks.alpha) == ("pvalue", 0.01)
    assert fraud.tests.wasserstein.decision == "none"
    assert [c.event_path for c in fraud.columns] == [
        ("features", "amount"),
        ("features", "country"),
        ("label",),
    ]


# --- one line per problem, with the field path as written in the file -------------------


def _set(path: str, value: Any) -> Callable[[Raw], None]:
    """A mutation that sets a dotted path (integers index lists) in a document."""

    def mutate(raw: Raw) -> None:
        *parents, leaf = path.split(".")
        node: Any = raw
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(leaf)] = value
        else:
            node[leaf] = value

    return mutate


def _delete(path: str) -> Callable[[Raw], None]:
    def mutate(raw: Raw) -> None:
        *parents, leaf = path.split(".")
        node: Any = raw
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[leaf]

    return mutate


BAD_INPUTS = [
    pytest.param(
        _set("htpp", {"address": "0.0.0.0:9108"}),
        "htpp: Extra inputs are not permitted",
        id="unknown top-level field",
    ),
    pytest.param(
        _set("models.0.windows.0.sise", 100),
        "models.0.windows.0.sise: Extra inputs are not permitted",
        id="unknown field in a window",
    ),
    pytest.param(
        _set("models.0.columns.0.kind", "number"),
        "models.0.columns.0.kind: Input should be 'numeric' or 'categorical'",
        id="unknown column kind",
    ),
    pytest.param(
        _set("models.0.windows.0.size", "ten thousand"),
        "models.0.windows.0.size: Input should be a valid integer, "
        "unable to parse string as an integer",
        id="wrong type",
    ),
    pytest.param(
        _set("models.0.columns", "amount"),
        "models.0.columns: Input should be a valid tuple",
        id="scalar where a list belongs",
    ),
    pytest.param(
        _set("models.0.windows.0.step", 30),
        "models.0.windows.0.step: step must divide size (size = whole number of steps)",
        id="step not dividing size",
    ),
    pytest.param(
        _set("models.0.windows.0.step", 200),
        "models.0.windows.0.step: step must divide size (size = whole number of steps)",
        id="step larger than size",
    ),
    pytest.param(
        _set(
            "models.0.windows.0",
            {"name": "1h", "type": "time", "duration_seconds": 3600, "slide_seconds": 700},
        ),
        "models.0.windows.0.slide_seconds: slide_seconds must divide duration_seconds",
        id="slide not dividing duration",
    ),
    pytest.param(
        _set("models.0.windows.0", {"name": "w", "type": "weekly"}),
        "models.0.windows.0: Input tag 'weekly' found using 'type' does not match any "
        "of the expected tags: 'count', 'time'",
        id="unknown window type",
    ),
    pytest.param(
        _set("models.0.columns.2", {"name": "amount", "kind": "numeric"}),
        "models.0.columns: column names must be unique, 'amount' appears twice",
        id="duplicate column names",
    ),
    pytest.param(
        _set("models.0.columns.1", {"name": "outcome", "kind": "categorical", "role": "label"}),
        "models.0.columns: at most one column may have role 'label'",
        id="two label columns",
    ),
    pytest.param(
        _set("models.0.tests", {"psi": {"decision": "threshold"}}),
        "models.0.tests.psi: decision 'threshold' needs a threshold",
        id="decision threshold without threshold",
    ),
    pytest.param(
        _set("models.0.columns.0.tests", {"ks": {"alpha": 0.001}}),
        "models.0.columns.0.tests.ks: decision 'threshold' needs a threshold",
        id="column override without its decision",
    ),
    pytest.param(
        _set("models.0.tests", {"chi2": {"decision": "pvalue"}}),
        "models.0.tests.chi2: decision 'pvalue' needs an alpha",
        id="decision pvalue without alpha",
    ),
    pytest.param(
        _set("models.0.tests", {"ks": {"decision": "pvalue", "alpha": 1.5}}),
        "models.0.tests.ks.alpha: Input should be less than 1",
        id="alpha out of range",
    ),
    pytest.param(
        _set("http", {"address": "localhost"}),
        "http.address: address must be host:port, e.g. 127.0.0.1:9108",
        id="http address without port",
    ),
    pytest.param(
        _set("http", {"address": "localhost:99999"}),
        "http.address: address must be host:port, e.g. 127.0.0.1:9108",
        id="http port out of range",
    ),
    pytest.param(
        _set("http", {"address": ":9108"}),
        "http.address: address must be host:port, e.g. 127.0.0.1:9108",
        id="http address without host",
    ),
    pytest.param(_delete("models"), "models: Field required", id="missing models"),
    pytest.param(
        _set("models", []),
        "models: Tuple should have at least 1 item after validation, not 0",
        id="empty models",
    ),
    pytest.param(
        _delete("models.0.reference"),
        "models.0.reference: Field required",
        id="missing reference",
    ),
    pytest.param(
        _delete("sources.0.path"), "sources.0.path: Field required", id="jsonl without path"
    ),
    pytest.param(
        _set("logging", {"level": "verbose"}),
        "logging.level: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'",
        id="unknown log level",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), BAD_INPUTS)
def test_bad_input_is_reported_with_its_field_path(
    make_raw: Callable[..., Raw],
    write_config: Callable[[Raw], Path],
    mutate: Callable[[Raw], None],
    expected: str,
) -> None:
    """Steps: break one thing in a valid config file, then load the file.

    Expected: exactly one problem line, ``field.path: message``, where the path is the
    one written in the file (no union tags such as ``count``) and relative paths are
    resolved (a missing reference stays "Field required").
    """
    raw = make_raw()
    mutate(raw)

    with pytest.raises(cfg.ConfigError) as caught:
        cfg.load_config(write_config(raw), environ={})

    assert caught.value.problems == [expected]


def test_every_problem_is_reported_once(make_raw: Callable[..., Raw]) -> None:
    """Steps: validate a config with three unrelated mistakes in one model.

    Expected: one line for each, in document order; the duplicate column is reported
    even though a window is also wrong, and no "too short" echo of the failed items.
    """
    raw = make_raw()
    model0(raw)["columns"].append({"name": "amount", "kind": "numeric"})
    model0(raw)["windows"][0]["step"] = 7
    raw["sources"][0]["batch_size"] = 0

    assert problems_of(raw) == [
        "models.0.columns: column names must be unique, 'amount' appears twice",
        "models.0.windows.0.step: step must divide size (size = whole number of steps)",
        "sources.0.batch_size: Input should be greater than 0",
    ]


def test_duplicate_window_names_are_rejected(make_raw: Callable[..., Raw]) -> None:
    raw = make_raw()
    model0(raw)["windows"].append({"name": "last-100", "type": "count", "size": 50, "step": 50})

    assert problems_of(raw) == [
        "models.0.windows: window names must be unique, 'last-100' appears twice",
    ]


def test_duplicate_model_names_are_rejected(make_raw: Callable[..., Raw]) -> None:
    raw = make_raw()
    raw["models"].append(copy.deepcopy(model0(MINIMAL)))

    assert problems_of(raw) == ["models: model names must be unique, 'fraud' appears twice"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "(top level): expected a mapping of settings"),
        ("- models\n", "(top level): expected a mapping of settings"),
        ("models: [\n", "(top level): not valid YAML: "),
    ],
    ids=["empty file", "a list", "broken YAML"],
)
def test_a_file_that_is_not_a_settings_mapping_is_one_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "driftd.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(cfg.ConfigError) as caught:
        cfg.load_config(path, environ={})

    [problem] = caught.value.problems
    assert problem.startswith(expected)
    assert caught.value.source == str(path)


def test_a_missing_file_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(cfg.ConfigError) as caught:
        cfg.load_config(tmp_path / "nope.yaml", environ={})

    assert caught.value.problems == ["cannot read file: No such file or directory"]


# --- environment overrides -----------------------------------------------------------


def test_env_address_wins_over_the_file(make_raw: Callable[..., Raw]) -> None:
    """Steps: a file with http.address 127.0.0.1:9108 and DRIFTD_HTTP_ADDRESS set.

    Expected: the environment's address, split into host and port.
    """
    raw = make_raw(http={"address": "127.0.0.1:9108"})

    config = cfg.parse_config(raw, environ={"DRIFTD_HTTP_ADDRESS": "0.0.0.0:19108"})

    assert config.http.address == "0.0.0.0:19108"
    assert (config.http.host, config.http.port) == ("0.0.0.0", 19108)
    assert raw["http"] == {"address": "127.0.0.1:9108"}  # the document is not modified


def test_env_overrides_fill_sections_the_file_omits(make_raw: Callable[..., Raw]) -> None:
    environ = {
        "DRIFTD_CHECKPOINT_PATH": "/var/lib/driftd/state.sqlite",
        "DRIFTD_LOG_LEVEL": "DEBUG",
    }

    config = cfg.parse_config(make_raw(), environ=environ)

    assert config.checkpoint.path == Path("/var/lib/driftd/state.sqlite")
    assert config.logging.level == "DEBUG"


def test_load_config_reads_the_process_environment(
    make_raw: Callable[..., Raw],
    write_config: Callable[[Raw], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DRIFTD_HTTP_ADDRESS", "[::1]:9200")

    config = cfg.load_config(write_config(make_raw()))

    assert (config.http.host, config.http.port) == ("::1", 9200)


def test_bad_env_value_is_reported_with_the_field_path_and_variable(
    make_raw: Callable[..., Raw],
) -> None:
    """Steps: a valid file, DRIFTD_HTTP_ADDRESS=localhost and DRIFTD_LOG_LEVEL=loud.

    Expected: both reported under their field paths, naming the variable, since the
    file itself holds nothing wrong.
    """
    environ = {"DRIFTD_HTTP_ADDRESS": "localhost", "DRIFTD_LOG_LEVEL": "loud"}

    assert problems_of(make_raw(), environ) == [
        "http.address: address must be host:port, e.g. 127.0.0.1:9108 "
        "(from environment variable DRIFTD_HTTP_ADDRESS)",
        "logging.level: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR' "
        "(from environment variable DRIFTD_LOG_LEVEL)",
    ]


def test_env_override_does_not_hide_a_wrongly_typed_section(
    make_raw: Callable[..., Raw],
) -> None:
    """Steps: ``http: 9108`` in the file (not a mapping) and DRIFTD_HTTP_ADDRESS set.

    Expected: the file's mistake is still reported.
    """
    raw = make_raw(http=9108)

    assert problems_of(raw, {"DRIFTD_HTTP_ADDRESS": "0.0.0.0:9108"}) == [
        "http: Input should be a valid dictionary or instance of HttpConfig",
    ]


# --- relative paths ------------------------------------------------------------------


def test_relative_paths_are_resolved_against_the_config_directory(
    make_raw: Callable[..., Raw],
    write_config: Callable[[Raw], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Steps: a config in tmp/etc with relative reference, JSONL and checkpoint paths,
    loaded while the working directory is elsewhere.

    Expected: all three are under tmp/etc; stdin ("-") and absolute paths are kept.
    """
    raw = make_raw(checkpoint={"path": "state/driftd.sqlite"})
    raw["sources"].append({"type": "jsonl", "path": "-"})
    raw["sources"].append({"type": "jsonl", "path": "/data/replay.jsonl"})
    raw["sources"].append({"type": "demo"})
    path = write_config(raw)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    config = cfg.load_config(path, environ={})

    etc = tmp_path / "etc"
    assert config.models[0].reference == etc / "profiles" / "fraud.json"
    assert [getattr(s, "path", None) for s in config.sources] == [
        str(etc / "events.jsonl"),
        "-",
        "/data/replay.jsonl",
        None,
    ]
    assert config.checkpoint.path == etc / "state" / "driftd.sqlite"


def test_parse_config_without_a_base_leaves_paths_alone(make_raw: Callable[..., Raw]) -> None:
    config = cfg.parse_config(make_raw(), environ={})

    assert config.models[0].reference == Path("profiles/fraud.json")


# --- immutability --------------------------------------------------------------------


def test_config_objects_are_frozen(make_raw: Callable[..., Raw]) -> None:
    """Steps: try to change a loaded config at three depths.

    Expected: every assignment is refused and collections are tuples, so the config
    that was validated at start-up is the one every thread reads.
    """
    config = cfg.parse_config(make_raw(), environ={})

    with pytest.raises(ValidationError, match="frozen"):
        config.http = cfg.HttpConfig(address="0.0.0.0:1")
    with pytest.raises(ValidationError, match="frozen"):
        config.models[0].name = "other"
    with pytest.raises(ValidationError, match="frozen"):
        config.models[0].tests.psi.threshold = 0.9
    assert isinstance(config.models, tuple)
    assert isinstance(config.models[0].columns, tuple)
    assert hash(config.models[0].columns[0]) == hash(config.models[0].columns[0])


def test_model_lookup_by_name(make_raw: Callable[..., Raw]) -> None:
    config = cfg.parse_config(make_raw(), environ={})

    assert config.model("fraud") is config.models[0]
    with pytest.raises(KeyError):
        config.model("churn")
