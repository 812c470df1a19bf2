"""The SDK's prompts: the cache revalidates with the ETag, serves the last known good version while
the server is down, and learns of label moves by events; the CLI round trip of a prompt file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aifactory.cli.main import app as cli_app
from aifactory.client import Client
from aifactory.errors import ConfigurationError
from aifactory.settings import Settings
from conftest import LiveServer, serving

SPEC = {"messages": [{"role": "user", "content": "Hello {{ who }}"}]}


def _seed(live: LiveServer) -> None:
    admin = live.client()
    for text in ("Hello {{ who }}", "Hi {{ who }}"):
        spec = {"messages": [{"role": "user", "content": text}]}
        admin.post("/v1/prompts", json={"name": "hello", "spec": spec}).raise_for_status()
    admin.put("/v1/assets/prompt:hello/labels/staging", json={"version": 1}).raise_for_status()


def _wait_for(client: Client, version: int, deadline: float = 5) -> float:
    start = time.monotonic()
    while client.prompts.get("hello", label="staging").version != version:
        assert time.monotonic() - start < deadline, f"still not version {version}"
        time.sleep(0.01)
    return time.monotonic() - start


@pytest.mark.parametrize("watch", [True, False], ids=["events", "etag"])
def test_the_client_learns_of_label_moves_within_seconds(live_server: LiveServer, watch: bool) -> None:
    _seed(live_server)
    with Client(live_server.url, live_server.admin_key) as client:
        if watch:
            client.prompts.watch(["hello"])
        assert client.prompts.get("hello", label="staging").version == 1
        for target in (2, 1, 2):
            live_server.client().put(
                "/v1/assets/prompt:hello/labels/staging", json={"version": target}
            ).raise_for_status()
            _wait_for(client, target)


def test_the_last_known_good_version_outlives_the_server(settings: Settings, admin_key: str) -> None:
    with serving(settings, admin_key) as live:
        _seed(live)
        client = Client(live.url, admin_key)
        client.prompts.revalidate_after = 0  # ask the server every time
        first = client.prompts.get("hello", label="staging")
    try:
        assert client.prompts.get("hello", label="staging") == first  # server gone: still served
        with pytest.raises(ConfigurationError, match="cannot reach the aifactory server"):
            client.prompts.get("hello", label="other")  # nothing known: the outage shows
    finally:
        client.close()


def test_push_pull_round_trip_through_the_cli(live_server: LiveServer, tmp_path: Path) -> None:
    env = {"AIFACTORY_URL": live_server.url, "AIFACTORY_API_KEY": live_server.admin_key}
    source = tmp_path / "hello.yaml"
    source.write_text(
        "name: hello\ndescription: Says hello\nmessages:\n- role: user\n  content: Hello {{ who }}\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    pushed = runner.invoke(cli_app, ["prompts", "push", str(source), "--json"], env=env)
    assert pushed.exit_code == 0, pushed.output
    assert json.loads(pushed.stdout)["created"] is True
    again = runner.invoke(cli_app, ["prompts", "push", str(source)], env=env)
    assert "unchanged" in again.stdout
    pulled = tmp_path / "pulled.md"
    result = runner.invoke(cli_app, ["prompts", "pull", "hello@1", "-o", str(pulled)], env=env)
    assert result.exit_code == 0, result.output
    assert runner.invoke(cli_app, ["prompts", "push", str(pulled)], env=env).stdout.startswith("unchanged")
    source.write_text(source.read_text().replace("Hello", "Hi"), encoding="utf-8")
    runner.invoke(cli_app, ["prompts", "push", str(source)], env=env)
    diff = runner.invoke(cli_app, ["prompts", "diff", "hello@1", "hello@2"], env=env)
    assert "-  content: Hello {{ who }}" in diff.stdout
    assert "+  content: Hi {{ who }}" in diff.stdout
    rendered = runner.invoke(cli_app, ["prompts", "render", "hello@2", "--var", "who=Ada"], env=env)
    assert "Hi Ada" in rendered.stdout
    listed = runner.invoke(cli_app, ["prompts", "search", "hello", "--json"], env=env)
    assert [p["name"] for p in json.loads(listed.stdout)] == ["hello"]
    missing = runner.invoke(cli_app, ["prompts", "show", "hello@staging"], env=env)
    assert missing.exit_code == 1
    assert "has no label 'staging'" in missing.stderr
