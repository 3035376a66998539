"""A bad CSV cell is invalid for its column only: `reference build` and `check` read a
CSV with the column kinds of the config or profile."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftd.cli import main
from driftd.datafile import BadCell, read_chunks

ROLES = ["--numeric", "amount,age", "--categorical", "country"]
BAD_LINE = 102  # the header is line 1: row index 100 is line 102


def holdout(rows: int = 228, *, seed: int = 1, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "amount": (rng.normal(10 + shift, 2, rows)).round(2),
        "age": rng.integers(18, 90, rows),
        "country": rng.choice(["DE", "FR", "01", "NA"], rows),
    })


def with_bad_cell(df: pd.DataFrame, path: Path) -> Path:
    """``df`` as CSV, its amount at row index 100 written as "12,5" (a decimal comma)."""
    df = df.astype({"amount": object})
    df.loc[BAD_LINE - 2, "amount"] = "12,5"
    df.to_csv(path, index=False)
    assert path.read_text().splitlines()[BAD_LINE - 1].startswith('"12,5",')
    return path


def build(data: Path, out: Path) -> dict[str, object]:
    assert main(["reference", "build", "--model", "m", "--data", str(data), "--out", str(out),
                 *ROLES]) == 0
    profile: dict[str, object] = json.loads(out.read_text())
    return profile


def test_one_bad_cell_costs_its_column_one_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Steps: a 228-row CSV whose amount on line 102 is "12,5"; `reference build` from it.

    Expected: amount profiles 227 values and 1 missing; age and country keep all 228;
    "01" and "NA" are countries (text as written); the build warns with the line, the
    column and the cell, and the metadata counts the invalid value.
    """
    data = with_bad_cell(holdout(), tmp_path / "train.csv")
    profile = build(data, tmp_path / "p.json")

    columns = profile["columns"]
    assert isinstance(columns, dict)
    assert (columns["amount"]["count"], columns["amount"]["missing"]) == (227, 1)
    assert (columns["age"]["count"], columns["age"]["missing"]) == (228, 0)
    assert (columns["country"]["count"], columns["country"]["missing"]) == (228, 0)
    assert sorted(columns["country"]["categories"]) == ["01", "DE", "FR", "NA"]
    assert profile["rows"] == 228
    metadata = profile["metadata"]
    assert isinstance(metadata, dict)
    assert metadata["invalid_records"] == {}
    assert metadata["invalid_values"] == {"amount": {"wrong_type": 1}}
    err = capsys.readouterr().err
    assert (f"train.csv:{BAD_LINE}: wrong_type: amount: expected a number, got '12,5'"
            in err)


def test_check_judges_bad_cells_by_the_share_of_their_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Steps: a profile of clean data; `check` of a same-distribution 228-row CSV and of
    a shifted one, each with one bad amount cell (0.44% of the column).

    Expected: with the default --max-invalid-ratio 0 the bad cell is bad input (exit 2,
    naming the column and its share); with 0.005 the exit is the drift verdict: 0 for the
    holdout (all 228 rows, amount missing once), 1 for the shifted file. The text report
    shows the line and the cell.
    """
    reference = tmp_path / "ref.csv"
    holdout(20_000, seed=7).to_csv(reference, index=False)
    build(reference, tmp_path / "p.json")
    fresh = with_bad_cell(holdout(), tmp_path / "fresh.csv")
    shifted = with_bad_cell(holdout(shift=3.0), tmp_path / "shifted.csv")
    check = ["check", "--reference", str(tmp_path / "p.json"), "--data"]
    capsys.readouterr()

    assert main([*check, str(fresh)]) == 2
    captured = capsys.readouterr()
    assert ("0.44% of values of column amount are invalid (more than --max-invalid-ratio 0.0)"
            in captured.err)
    assert "invalid values (missing in their column): amount wrong_type=1" in captured.out
    assert f"fresh.csv:{BAD_LINE}: wrong_type: amount: expected a number, got '12,5'" \
        in captured.out

    assert main([*check, str(fresh), "--max-invalid-ratio", "0.005", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["rows"], report["invalid"]) == (228, {})
    assert report["invalid_values"] == {"amount": {"wrong_type": 1}}
    missing = {c["column"]: c["statistics"]["missing_ratio"] for c in report["columns"]}
    assert missing == {"amount": 1 / 228, "age": 0.0, "country": 0.0}

    assert main([*check, str(shifted), "--max-invalid-ratio", "0.005"]) == 1
    assert "DRIFT in 1 column(s): amount" in capsys.readouterr().out


def test_columns_are_read_by_their_kind_cell_by_cell(tmp_path: Path) -> None:
    """Steps: a CSV read in chunks of 3 rows with amount numeric and code categorical;
    the bad cells sit in the second and third chunks.

    Expected: codes are the text written ("007", "NA", "1.0"; only the empty cell is
    missing); amounts are numbers, NA markers and empty cells missing, "inf" infinite;
    "12,5" and "abc" are missing and listed with their lines; the untyped id column
    reads numbers as before.
    """
    path = tmp_path / "cells.csv"
    path.write_text("id,amount,code\n"
                    "1,1.5,007\n"
                    "2,NA,NA\n"
                    "3,,1.0\n"
                    '4,"12,5",\n'
                    "5,inf,x\n"
                    "6,abc,y\n"
                    "7,-2e-1,z\n")
    kinds = {"amount": "numeric", "code": "categorical"}

    chunks = list(read_chunks(path, 3, column_kinds=kinds))

    rows = [row for chunk in chunks for row in chunk.objects]
    assert [row["id"] for row in rows] == [1, 2, 3, 4, 5, 6, 7]
    assert [row["code"] for row in rows] == ["007", "NA", "1.0", None, "x", "y", "z"]
    amounts = ["missing" if a is None or math.isnan(a) else a
               for a in (row["amount"] for row in rows)]
    assert amounts == [1.5, "missing", "missing", "missing", math.inf, "missing", -0.2]
    assert [cell for chunk in chunks for cell in chunk.bad_cells] == [
        BadCell("amount", "cells.csv:5", "12,5"), BadCell("amount", "cells.csv:7", "abc")]


def test_a_bad_cell_of_a_rejected_record_is_counted_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Steps: a CSV with a model column; one row of another model also has a bad amount.

    Expected: `reference build` counts that row as an invalid record (unknown_model), not
    also as an invalid value; the other bad cell counts as the value it is.
    """
    df = holdout(10).astype({"amount": object})
    df.insert(0, "model", "m")
    df.loc[3, ["model", "amount"]] = ["other", "1.2.3"]
    df.loc[6, "amount"] = "n/a?"
    df.to_csv(tmp_path / "mixed.csv", index=False)

    profile = build(tmp_path / "mixed.csv", tmp_path / "p.json")

    metadata = profile["metadata"]
    assert isinstance(metadata, dict)
    assert metadata["invalid_records"] == {"unknown_model": 1}
    assert metadata["invalid_values"] == {"amount": {"wrong_type": 1}}
    assert profile["rows"] == 9
    assert "mixed.csv:8: wrong_type: amount: expected a number, got 'n/a?'" \
        in capsys.readouterr().err
