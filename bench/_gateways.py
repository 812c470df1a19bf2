"""The processes the gateway benchmark compares: the fake upstream, aifactory and LiteLLM's proxy.

Each runs as its own process on 127.0.0.1 (so its CPU and memory are its own), logs to a file in
the run's temp dir, and comes back as a `Process` plus the `Target` clients call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _processes import Process, free_port, wait_until

__all__ = [
    "LITELLM_SPEC",
    "Target",
    "ensure_litellm",
    "start_aifactory",
    "start_all",
    "start_fake",
    "start_litellm",
]

LITELLM_SPEC = "litellm[proxy]==1.108.7"
"""Pinned: the newest release whose `proxy` extra resolves here, and a known one (not 1.82.7/1.82.8)."""
PRICES = {"input_per_mtok": "1", "output_per_mtok": "2"}


@dataclass(frozen=True)
class Target:
    """Where a client sends chat completions: an OpenAI base URL, a bearer key and a model name."""

    name: str
    base_url: str
    key: str | None
    model: str
    prompt: str = "hello from the gateway benchmark"
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        """Request headers: JSON, the bearer key when there is one, then any extra ones."""
        auth = {"authorization": f"Bearer {self.key}"} if self.key else {}
        return {"content-type": "application/json", **auth, **self.extra_headers}

    def to_json(self) -> dict[str, Any]:
        """The form the load generator reads."""
        return {"name": self.name, "base_url": self.base_url, "key": self.key, "model": self.model}


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def start_fake(work: Path) -> tuple[Process, Target]:
    """The fake OpenAI upstream in its own process, answering without delay."""
    port = free_port()
    argv = [sys.executable, "-m", "aifactory.testing.fake_provider", "--port", str(port)]
    proc = Process("fake upstream", argv, dict(os.environ), work / "fake.log")
    base = f"http://127.0.0.1:{port}/v1"
    proc.wait_http(f"{base}/models", deadline=30)
    return proc, Target("direct", base, None, "fake-chat")


def start_all(
    jobs: list[Callable[[], tuple[Process, Target]]], started: list[Process]
) -> list[tuple[Target, Process]]:
    """Run the start-up jobs at once (a gateway takes seconds); whatever started is in `started`."""
    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(job) for job in jobs]
    results = [f.result() for f in futures if f.exception() is None]
    started += [proc for proc, _ in results]
    for future in futures:
        if future.exception() is not None:
            raise RuntimeError("a gateway did not start") from future.exception()
    return [(target, proc) for proc, target in results]


# --- aifactory --------------------------------------------------------------------------------------


def _aifactory_env(data_dir: Path, durable: bool, extra: dict[str, str]) -> dict[str, str]:
    """Our environment without any `AIFACTORY_*` of the caller's, then the benchmark's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIFACTORY_")}
    env["AIFACTORY_DATA_DIR"] = str(data_dir)
    env["AIFACTORY_GATEWAY_DURABLE_RUNS"] = "true" if durable else "false"
    return env | extra


def start_aifactory(
    name: str,
    work: Path,
    upstream: str,
    *,
    durable: bool,
    extra_env: dict[str, str] | None = None,
    region: str | None = None,
    packs: dict[str, Any] | None = None,
) -> tuple[Process, Target]:
    """`aifactory init` + `aifactory serve` on a data dir of its own, with route `bench` published
    (its deployment in `region` when given) and `packs` (policy packs by name) active."""
    env = _aifactory_env(work / name, durable, extra_env or {})
    init = subprocess.run([_bin("aifactory"), "init", "--json"], env=env, capture_output=True, text=True)
    if init.returncode:
        raise RuntimeError(f"aifactory init failed for {name}: {init.stderr[-2000:]}")
    admin_key = json.loads(init.stdout)["admin_key"]
    port = free_port()
    argv = [_bin("aifactory"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    proc = Process(name, argv, env, work / f"{name}.log")
    url = f"http://127.0.0.1:{port}"
    try:
        proc.wait_http(f"{url}/v1/models", deadline=60, headers={"authorization": f"Bearer {admin_key}"})
        with httpx.Client(
            base_url=url, headers={"authorization": f"Bearer {admin_key}"}, timeout=30
        ) as admin:
            key = _publish_bench_route(admin, upstream, region, packs or {})
            wait_until(lambda: _active(admin, packs or {}), f"packs on {name}", 30, proc.is_alive)
        target = Target(name, f"{url}/v1", key, "bench")
        wait_until(lambda: _serves(target), f"route 'bench' on {name}", 30, proc.is_alive)
    except BaseException:
        proc.stop()
        raise
    return proc, target


def _publish_bench_route(
    admin: httpx.Client, upstream: str, region: str | None, packs: dict[str, Any]
) -> str:
    """Deployment `bench-fake`, route `bench` and the packs through the catalog; an app key that
    may call the route."""
    reviewer_key = _key_for(admin, "bench-reviewer", "person", "reviewer")
    with httpx.Client(
        base_url=admin.base_url, headers={"authorization": f"Bearer {reviewer_key}"}, timeout=30
    ) as reviewer:
        deployment = {
            "provider": "openai",
            "base_url": upstream,
            "upstream_model": "fake-chat",
            "timeout_seconds": 10,
            "prices": PRICES,
        } | ({"region": region} if region else {})
        _publish(admin, reviewer, "deployment", "bench-fake", deployment)
        _publish(admin, reviewer, "route", "bench", {"candidates": [{"deployment": "bench-fake"}]})
        for pack, content in packs.items():
            _publish(admin, reviewer, "policy-pack", pack, content)
    return _key_for(admin, "bench-app", "app", "app")


def _active(admin: httpx.Client, packs: dict[str, Any]) -> bool:
    """Whether the server's policy engine has every pack in `packs` (it follows the catalog)."""
    listed = admin.get("/v1/policy/packs")
    return listed.status_code == 200 and {p["name"] for p in listed.json()} >= set(packs)


def _key_for(admin: httpx.Client, name: str, kind: str, role: str) -> str:
    admin.post("/v1/principals", json={"name": name, "kind": kind, "roles": [role]}).raise_for_status()
    created = admin.post("/v1/keys", json={"name": name, "principal": name})
    created.raise_for_status()
    return str(created.json()["key"])


def _publish(admin: httpx.Client, reviewer: httpx.Client, kind: str, name: str, content: Any) -> None:
    """Create the asset, push a version, approve it as a second person, label it production."""
    admin.post("/v1/assets", json={"kind": kind, "name": name}).raise_for_status()
    pushed = admin.post(f"/v1/assets/{kind}:{name}/versions", json={"content": content})
    pushed.raise_for_status()
    number = pushed.json()["number"]
    reviewer.post(f"/v1/assets/{kind}:{name}/versions/{number}/approvals", json={}).raise_for_status()
    admin.put(f"/v1/assets/{kind}:{name}/labels/production", json={"version": number}).raise_for_status()


def _serves(target: Target) -> bool:
    listed = httpx.get(f"{target.base_url}/models", headers=target.headers, timeout=5)
    return listed.status_code == 200 and target.model in [m["id"] for m in listed.json()["data"]]


# --- LiteLLM ----------------------------------------------------------------------------------------


def ensure_litellm(venv: Path, spec: str) -> str:
    """LiteLLM's proxy in a virtualenv of its own (created and installed when missing); its version."""
    python = venv / "bin" / "python"
    if not (venv / "bin" / "litellm").exists():
        print(f"installing {spec} into {venv} (once)", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", spec], check=True)
    probe = "import importlib.metadata as m; print(m.version('litellm'))"
    return subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()


def _litellm_config(upstream: str, master_key: str) -> str:
    """The proxy's config: one model at the fake with our prices, master-key auth, no database."""
    model = {
        "model_name": "bench",
        "litellm_params": {
            "model": "openai/fake-chat",
            "api_base": upstream,
            "api_key": "x",
            "input_cost_per_token": 1e-6,
            "output_cost_per_token": 2e-6,
        },
    }
    config = {"model_list": [model], "general_settings": {"master_key": master_key}}
    return json.dumps(config, indent=2)  # JSON is YAML


def _litellm_env(venv: Path, home: Path) -> dict[str, str]:
    """A bare environment (no credentials of ours), every remote fetch and telemetry switched off."""
    return {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LITELLM_MODE": "PRODUCTION",  # no .env loading
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # else it fetches the price map from GitHub at import
        "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
        "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
        "LITELLM_TELEMETRY_DISABLED": "True",
        "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
    }


def start_litellm(work: Path, venv: Path, upstream: str) -> tuple[Process, Target]:
    """`litellm --config` (uvicorn, one worker, as shipped) on 127.0.0.1 in front of the fake."""
    home = work / "litellm-home"
    home.mkdir()
    config = work / "litellm_config.yaml"
    master_key = "sk-bench-master-key"
    config.write_text(_litellm_config(upstream, master_key))
    port = free_port()
    argv = [
        str(venv / "bin" / "litellm"),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    proc = Process("litellm", argv, _litellm_env(venv, home), work / "litellm.log")
    try:
        proc.wait_http(f"http://127.0.0.1:{port}/health/liveliness", deadline=120)
    except BaseException:
        proc.stop()
        raise
    return proc, Target("litellm", f"http://127.0.0.1:{port}/v1", master_key, "bench")
