"""The fake provider's control routes, for tests that drive it over HTTP rather than in-process.

- `POST /_fake/plan` with `{"model": "a", "faults": ["503", null], "then": null, "reply": null}`:
  replace model `a`'s script (see `aifactory.testing.plan`); answers `{"model": "a", "pending": 2}`.
- `POST /_fake/reset`: forget every plan and logged call; answers `{"reset": true}`.
- `GET /_fake/calls`: `{"object": "list", "data": [call, ...]}`, each call as `Call.to_json` gives it:
  method, path, headers (lower-case names), body (parsed JSON), model, fault, time.
"""

from __future__ import annotations

import json
from typing import Any

from aifactory.errors import InvalidInputError
from aifactory.testing import _http
from aifactory.testing.calls import CallLog
from aifactory.testing.plan import Plan

__all__ = ["CONTROL_ROUTES", "control"]

CONTROL_ROUTES = (("POST", "/_fake/plan"), ("POST", "/_fake/reset"), ("GET", "/_fake/calls"))


def _plan_body(raw: bytes) -> tuple[str, list[str | None], str | None, str | None]:
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise InvalidInputError("The plan needs a JSON object with a string 'model'.", param="model")
    faults = body.get("faults", [])
    if not isinstance(faults, list) or not all(f is None or isinstance(f, str) for f in faults):
        raise InvalidInputError("'faults' must be a list of fault specs (strings, or null).", param="faults")
    for name in ("then", "reply"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise InvalidInputError(f"'{name}' must be a string or null.", param=name)
    return body["model"], faults, body.get("then"), body.get("reply")


def control(request: _http.Request, plan: Plan, calls: CallLog) -> Any:
    """The JSON answer to a control route (one of `CONTROL_ROUTES`); `InvalidInputError` if bad."""
    route = (request.method, request.path)
    if route == ("POST", "/_fake/plan"):
        model, faults, then, reply = _plan_body(request.body)
        plan.set(model, faults, then=then, reply=reply)
        return {"model": model, "pending": plan.pending(model)}
    if route == ("POST", "/_fake/reset"):
        plan.clear()
        calls.clear()
        return {"reset": True}
    return {"object": "list", "data": [call.to_json() for call in calls.snapshot()]}
