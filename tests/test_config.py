"""cockpit.toml: the README's example works; mistakes name the source and the field."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from cockpit.commands.run import build_actions, build_sources
from cockpit.core.config import ConfigFileError, load_settings
from cockpit.core.errors import CockpitError

ROOT = Path(__file__).resolve().parent.parent


def readme_example(containing: str = "[[sources]]") -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```toml\n(.*?)```", text, re.S) if containing in b]
    assert blocks, f"the README shows a cockpit.toml with {containing}"
    return str(blocks[0])


def test_the_readme_example_builds_its_sources(tmp_path: Path) -> None:
    path = tmp_path / "cockpit.toml"
    path.write_text(readme_example(), encoding="utf-8")
    settings = load_settings(path)
    assert settings.procedure == "pulse-messages"
    sources = build_sources([(s.provider, s.options) for s in settings.sources])
    assert [s.name for s in sources] == ["prometheus_scrape", "http_health", "prometheus"]
    assert "error_rate" in sources[0].metric_names
    assert "health_check_failed" in sources[1].metric_names


def test_the_readme_providers_example_builds_its_providers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "unleash-token"
    secret.write_text("unleash-secret\n", encoding="utf-8")
    monkeypatch.setenv("VERCEL_TOKEN", "vercel-secret")
    example = readme_example("[providers.").replace("/run/secrets/unleash", str(secret))
    path = tmp_path / "cockpit.toml"
    path.write_text(example, encoding="utf-8")
    settings = load_settings(path)
    actions = build_actions(
        {n: (p.type, p.options, p.params) for n, p in settings.providers.items()}
    )
    assert {name: type(p).__name__ for name, p in actions.items()} == {
        "vercel": "VercelProvider",
        "feature_flags": "UnleashProvider",
    }
    assert actions["vercel"].fixed_params == {"health_url": "https://app.huntaze.com/api/health"}
    for provider in actions.values():  # secrets are read, and kept out of reprs
        assert "secret" not in repr(provider.options)
        provider.close()


def test_a_provider_secret_that_is_not_set_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VERCEL_TOKEN", raising=False)
    path = tmp_path / "cockpit.toml"
    path.write_text(readme_example("[providers."), encoding="utf-8")
    settings = load_settings(path)
    with pytest.raises(ConfigFileError, match=r"providers.vercel: options.token: .*VERCEL_TOKEN"):
        build_actions({n: (p.type, p.options, p.params) for n, p in settings.providers.items()})


def test_a_missing_file_means_defaults(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "absent.toml").sources == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("procedure = [", "cockpit.toml: "),
        ("poll_interval_seconds = -1", "poll_interval_seconds: Input should be greater than 0"),
        ("colour = 'red'", "colour: Extra inputs are not permitted"),
    ],
)
def test_bad_files_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "cockpit.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigFileError, match=re.escape(message)):
        load_settings(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "sources = " + "[" * 5000 + "]" * 5000,
            "cockpit.toml: arrays or tables nested too deeply",
        ),
        ("poll_interval_seconds = " + "9" * 5000, "Exceeds the limit (4300 digits)"),
        ("poll_interval_seconds = inf", "poll_interval_seconds: Input should be a finite number"),
        ("poll_interval_seconds = nan", "poll_interval_seconds: Input should be a finite number"),
    ],
)
def test_hostile_files_are_one_error_too(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "cockpit.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigFileError, match=re.escape(message)) as raised:
        load_settings(path)
    assert len(str(raised.value).splitlines()) == 1


def test_a_fifo_or_a_huge_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    fifo = tmp_path / "cockpit.toml"
    os.mkfifo(fifo)  # a plain open would wait for a writer forever
    with pytest.raises(ConfigFileError, match="not a regular file but a named pipe"):
        load_settings(fifo)
    huge = tmp_path / "huge.toml"
    with huge.open("wb") as handle:
        handle.truncate(20 * 1024 * 1024)
    with pytest.raises(ConfigFileError, match=r"the file is 20\.0 MiB; the limit is 1\.0 MiB"):
        load_settings(huge)


def test_unknown_provider_lists_the_installed_ones() -> None:
    with pytest.raises(CockpitError, match=r"installed: .*prometheus_scrape"):
        build_sources([("no-such-provider", {"url": "http://x"})])


def test_bad_source_options_name_the_source_and_field() -> None:
    expected = r"sources\[0\] \(http_health\): options.url: Field required"
    with pytest.raises(ConfigFileError, match=expected):
        build_sources([("http_health", {"timeout_seconds": 1})])


@pytest.mark.parametrize(
    ("provider", "query"),
    [
        ("prometheus_scrape", {"kind": "gauge", "family": "up"}),
        ("prometheus", {"query": "up"}),
        ("json_endpoint", {"path": "up"}),
    ],
)
def test_every_query_source_refuses_two_queries_for_one_metric(
    provider: str, query: dict[str, str]
) -> None:
    twice = [{"name": "error_rate", **query}, {"name": "error_rate", **query}]
    with pytest.raises(ConfigFileError, match="metric names must be unique: error_rate"):
        build_sources([(provider, {"url": "http://127.0.0.1:1", "metrics": twice})])
