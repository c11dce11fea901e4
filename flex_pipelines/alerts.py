"""Operator alerts on a webhook: one JSON POST, the same for the Dagster sensors
(``assets_defs/sensors.py``) and the ``flexpipe monitor`` commands.

The body is ``{"text": message, …fields}``: ``text`` is what chat webhooks (Slack, Mattermost,
Teams connectors) show; the fields say what the alert is about (``asset``, ``run_id``,
``monitor``, ``job``, ``sensors`` …). The URL comes from ``FLEXPIPE_ALERT_WEBHOOK``
(:mod:`flex_pipelines.settings`) or the command line. Webhook URLs often carry a secret in
their path, so errors name only the host.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from flex_pipelines.errors import FlexPipelinesError

__all__ = ["AlertDeliveryError", "alert_body", "post_alert"]


class AlertDeliveryError(FlexPipelinesError):
    """The webhook could not be reached or did not accept the alert."""


def alert_body(text: str, **fields: object) -> bytes:
    """The JSON body of an alert: ``text`` first, then the fields (non-JSON values as text)."""
    return json.dumps({"text": text, **fields}, default=str).encode()


def post_alert(url: str, text: str, *, timeout_s: float = 5.0, **fields: object) -> None:
    """POST an alert as JSON to a webhook.

    Parameters
    ----------
    url : str
        The webhook (http or https).
    text : str
        The message people read.
    timeout_s : float
        Seconds to wait for the webhook's answer.
    **fields
        What the alert is about; added to the body next to ``text``.

    Raises
    ------
    AlertDeliveryError
        When the webhook cannot be reached or answers with an error status (the message names
        the host, never the whole URL).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AlertDeliveryError("the alert webhook must be an http:// or https:// URL")
    where = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    request = urllib.request.Request(
        url, alert_body(text, **fields), {"Content-Type": "application/json"}
    )
    try:
        urllib.request.urlopen(request, timeout=timeout_s).close()
    except urllib.error.HTTPError as exc:
        raise AlertDeliveryError(
            f"the alert webhook at {where} answered {exc.code} {exc.reason}"
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AlertDeliveryError(f"could not reach the alert webhook at {where}: {reason}") from exc
