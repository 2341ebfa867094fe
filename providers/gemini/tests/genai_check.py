"""Checks against google-genai, Google's own SDK: the authority on the Live API's fields.

``LiveClientSetup`` lacks ``realtimeInputConfig`` (the SDK adds it in its
converter), so a setup is checked in two parts. The genai models forbid
unknown fields at every level, so "parses" means "no field Google does not
know"; ``model_validate_json`` also checks that bytes are valid base64.
"""

from __future__ import annotations

import json
from typing import Any

from google.genai import _api_client, _common, types
from google.genai import _live_converters as live_converters


def check_client_frame(frame: str | bytes) -> types.LiveClientMessage:
    """One frame the provider sent, validated as a ``LiveClientMessage``."""
    message: dict[str, Any] = json.loads(frame)
    setup = message.get("setup")
    if setup is None:
        return types.LiveClientMessage.model_validate_json(frame)
    rest = dict(setup)
    realtime = rest.pop("realtimeInputConfig", None)
    if realtime is not None:
        types.RealtimeInputConfig.model_validate_json(json.dumps(realtime))
    return types.LiveClientMessage.model_validate_json(json.dumps({"setup": rest}))


def check_server_frame(frame: str | bytes) -> types.LiveServerMessage:
    """One frame the fake sent, validated as a ``LiveServerMessage`` (unknown fields fail)."""
    return types.LiveServerMessage.model_validate_json(frame)


def sdk_setup(model: str, config: types.LiveConnectConfig) -> dict[str, Any]:
    """The setup message google-genai would send for ``config`` (as in ``live.connect``)."""
    client = _api_client.BaseApiClient(api_key="not-used")
    params = types.LiveConnectParameters(model=model, config=config).model_dump(exclude_none=True)
    request: dict[str, Any] = _common.convert_to_dict(
        live_converters._LiveConnectParameters_to_mldev(api_client=client, from_object=params)  # pyright: ignore[reportPrivateUsage]
    )
    del request["config"]
    request = _common.encode_unserializable_types(request)
    request["setup"]["model"] = model
    return request
