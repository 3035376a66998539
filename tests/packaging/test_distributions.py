"""The wheel and sdist as released: built with ``python -m build``, checked with twine,
installed into a fresh venv, carrying the dashboards, rules and example configs.

The slow part (build, venv, pip install: about a minute, dependencies from pip's cache)
runs once for the module, in ``released``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from driftd import __version__, assets

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Released:
    wheel: Path
    sdist: Path
    venv: Path
    build_seconds: float
    install_seconds: float

    def driftd(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        """The installed ``driftd`` command, run away from the checkout."""
        environ = {k: v for k, v in os.environ.items()
                   if not k.startswith(("DRIFTD_", "PYTHON"))}
        return subprocess.run([str(self.venv / "bin" / "driftd"), *args], cwd=cwd,
                              env=environ, capture_output=True, text=True, timeout=120,
                              check=False)


def run(*command: str | Path, timeout: float) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True,
                            timeout=timeout, check=False)
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result


def bundled_files() -> list[str]:
    """What driftd.assets.BUNDLED matches in the checkout (relative paths)."""
    return sorted({p.relative_to(REPO).as_posix()
                   for pattern in assets.BUNDLED for p in REPO.glob(pattern)})


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Released]:
    """Build both distributions, then install the wheel into a fresh venv."""
    work = tmp_path_factory.mktemp("released")
    started = time.monotonic()
    run(sys.executable, "-m", "build", "--outdir", work / "dist", REPO, timeout=600)
    built = time.monotonic()
    wheel = next((work / "dist").glob("driftd-*.whl"))
    sdist = next((work / "dist").glob("driftd-*.tar.gz"))
    venv = work / "venv"
    run(sys.executable, "-m", "venv", venv, timeout=120)
    run(venv / "bin" / "python", "-m", "pip", "install", "--quiet",
        "--disable-pip-version-check", wheel, timeout=600)
    installed = time.monotonic()
    yield Released(wheel, sdist, venv, built - started, installed - built)


def test_twine_accepts_both_distributions(released: Released) -> None:
    result = run(sys.executable, "-m", "twine", "check", "--strict", released.wheel,
                 released.sdist, timeout=120)
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_the_wheel_carries_the_bundled_files_byte_for_byte(released: Released) -> None:
    """Every file BUNDLED matches is in the wheel under driftd/_assets/, as in the
    checkout, and nothing else is there."""
    expected = bundled_files()
    assert "grafana/dashboards/driftd-fleet.json" in expected
    assert "deploy/prometheus/driftd.rules.yml" in expected
    with zipfile.ZipFile(released.wheel) as wheel:
        carried = {name.removeprefix("driftd/_assets/"): wheel.read(name)
                   for name in wheel.namelist() if name.startswith("driftd/_assets/")}
    assert sorted(carried) == expected
    for name in expected:
        assert carried[name] == (REPO / name).read_bytes(), name


def test_the_sdist_holds_the_same_files_at_their_own_paths(released: Released) -> None:
    """The sdist keeps the repository's layout: grafana/, deploy/prometheus/, config/."""
    prefix = f"driftd-{__version__}/"
    with tarfile.open(released.sdist) as sdist:
        for name in bundled_files():
            member = sdist.extractfile(prefix + name)
            assert member is not None, name
            assert member.read() == (REPO / name).read_bytes(), name
        assert f"{prefix}setup.py" in sdist.getnames()


def test_the_installed_wheel_exports_the_dashboards(released: Released,
                                                    tmp_path: Path) -> None:
    """``driftd dashboards export DIR`` from the fresh venv, outside the checkout,
    writes grafana/dashboards/*.json byte for byte, read from the installed copy."""
    where = released.driftd("dashboards", "export", str(tmp_path / "out"), cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    shipped = sorted((REPO / "grafana" / "dashboards").glob("*.json"))
    assert shipped
    exported = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in exported] == [p.name for p in shipped]
    for mine, theirs in zip(exported, shipped, strict=True):
        assert mine.read_bytes() == theirs.read_bytes(), mine.name
    origin = subprocess.run(
        [str(released.venv / "bin" / "python"), "-c",
         "from driftd import assets; print(assets.root())"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True)
    assert origin.stdout.strip().endswith("site-packages/driftd/_assets"), origin.stdout


def test_the_installed_wheel_exports_rules_and_example_configs(released: Released,
                                                               tmp_path: Path) -> None:
    rules = released.driftd("rules", "export", cwd=tmp_path)
    assert rules.returncode == 0, rules.stderr
    assert rules.stdout == (REPO / "deploy/prometheus/driftd.rules.yml").read_text("utf-8")
    for name in ("driftd", "backtest"):
        out = tmp_path / f"{name}.yaml"
        example = released.driftd("config", "example", name, "--out", str(out), cwd=tmp_path)
        assert example.returncode == 0, example.stderr
        assert out.read_bytes() == (REPO / f"config/{name}.example.yaml").read_bytes()
        # The example config is valid as shipped (its profile paths aside).
        shown = released.driftd("config", "show", str(out), cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
    web = released.driftd("config", "example", "web", cwd=tmp_path)
    assert web.returncode == 0, web.stderr
    assert web.stdout == (REPO / "config/web-config.example.yml").read_text("utf-8")


def test_the_slow_part_stays_within_its_budget(released: Released,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Build (about 10 s) and venv + install (about 35 s from pip's cache) stay far
    below the subprocess timeouts; the figures are printed for the record."""
    with capsys.disabled():
        print(f"\n[packaging] build {released.build_seconds:.1f} s, "
              f"venv + pip install {released.install_seconds:.1f} s", file=sys.stderr)
    assert released.build_seconds < 300
    assert released.install_seconds < 450


def test_the_checkout_exports_the_same_files(tmp_path: Path) -> None:
    """An editable install (the dev venv) reads the files from the checkout itself."""
    from driftd.cli import main

    assert Path(str(assets.root())) in (REPO, REPO / "src" / "driftd" / "_assets")
    assert main(["dashboards", "export", str(tmp_path), "--provisioning"]) == 0
    names = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")
                   if p.is_file())
    assert names == sorted([p.name for p in (REPO / "grafana/dashboards").glob("*.json")]
                           + ["provisioning/dashboards/driftd.yaml",
                              "provisioning/datasources/driftd.yaml"])
    for name in names:
        source = REPO / "grafana" / ("dashboards/" + name if "/" not in name else name)
        assert (tmp_path / name).read_bytes() == source.read_bytes(), name


def test_export_into_an_unwritable_place_is_exit_2(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from driftd.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["dashboards", "export", str(blocker / "sub")]) == 2
    assert "driftd dashboards export" in capsys.readouterr().err


def test_rules_export_writes_the_shipped_file(capsys: pytest.CaptureFixture[str]) -> None:
    from driftd.cli import main

    assert main(["rules", "export"]) == 0
    shipped = (REPO / "deploy/prometheus/driftd.rules.yml").read_bytes()
    assert capsys.readouterr().out.encode() == shipped
