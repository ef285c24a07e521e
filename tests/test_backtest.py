"""`cockpit backtest`: rules replayed over recorded samples say when they would have fired."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cockpit.cli import cli


def minute(n: int) -> str:
    return f"2026-01-15T03:{12 + n:02d}:00Z"


def write_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("at,metric,value\n" + "".join(f"{a},{m},{v}\n" for a, m, v in rows))
    return path


ERRORS = [0.4, 0.5, 6.0, 7.1, 8.2, 8.8, 9.0, 2.0, 0.6, 0.4, 0.4, 0.5, 0.4]


def test_backtest_names_when_and_why_each_rule_fired(tmp_path: Path) -> None:
    rows = [(minute(i), "error_rate", str(v)) for i, v in enumerate(ERRORS)]
    samples = write_csv(tmp_path / "samples.csv", rows)
    result = CliRunner().invoke(
        cli, ["backtest", "--procedure", "pulse-messages", "--samples", str(samples)]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("pulse-messages: 13 samples of 1 metrics")
    fired = [line for line in lines if "FIRED" in line]
    # breaches: 6.0 (minute 2), 7.1, 8.2, 8.8, and the fifth in a row, 9.0, at minute 6
    assert fired == [
        "2026-01-15T03:18:00.000Z  FIRED    error-rate: error_rate 9% breaches > 5%; "
        "5/5 consecutive → FIRING"
    ]
    # the procedure clears it after 5 healthy samples in a row: 2.0, 0.6, 0.4, 0.4, 0.5
    cleared = [line for line in lines if "CLEARED" in line]
    assert len(cleared) == 1 and cleared[0].startswith("2026-01-15T03:23:00.000Z")
    assert any(line.startswith("health-check-failures: never fired; no samples") for line in lines)


def test_the_same_samples_as_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    path.write_text(
        "\n".join(
            json.dumps({"at": minute(i), "metric": "error_rate", "value": v})
            for i, v in enumerate(ERRORS)
        )
    )
    result = CliRunner().invoke(
        cli, ["backtest", "--procedure", "pulse-messages", "--samples", str(path)]
    )
    assert result.exit_code == 0
    assert sum("FIRED" in line for line in result.output.splitlines()) == 1


def test_gaps_follow_the_no_data_policy(tmp_path: Path) -> None:
    # hold: a gap neither breaks nor extends the run
    values = ["6", "6", "", "6", "6", "6"]
    samples = write_csv(
        tmp_path / "gaps.csv", [(minute(i), "error_rate", v) for i, v in enumerate(values)]
    )
    result = CliRunner().invoke(
        cli, ["backtest", "--procedure", "pulse-messages", "--samples", str(samples)]
    )
    assert "2026-01-15T03:17:00.000Z  FIRED" in result.output
    assert "error-rate: still firing at the last sample" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("when,metric,value\n", "samples.csv:1: header lacks at"),
        (
            "at,metric,value\n2026-01-15T03:12:00Z,error_rate,lots\n",
            "samples.csv:2: value: 'lots' is not a number",
        ),
        (
            "at,metric,value\nyesterday,error_rate,1\n",
            "samples.csv:2: at: 'yesterday' is not an ISO 8601 time",
        ),
        (
            "at,metric,value\n2026-01-15T03:12:00,error_rate,1\n",
            "samples.csv:2: at: '2026-01-15T03:12:00' has no time zone",
        ),
    ],
)
def test_bad_samples_get_one_line_naming_file_and_line(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "samples.csv"
    path.write_text(content)
    result = CliRunner().invoke(
        cli, ["backtest", "--procedure", "pulse-messages", "--samples", str(path)]
    )
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_exactly_one_source_of_samples(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["backtest", "--procedure", "pulse-messages"])
    assert result.exit_code == 2
    assert "exactly one of --samples FILE or --incident ID" in result.output
