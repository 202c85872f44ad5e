"""Sending a signed job-completion webhook, as an orchestrator or CI job would."""

import json
import time
import uuid
from typing import Any

import requests

from ft_archiver.domain.webhook import decode_secret, sign


def signed_headers(
    secret: str, body: bytes, webhook_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(decode_secret(secret), webhook_id, timestamp, body),
    }


def send_webhook(
    url: str, secret: str, payload: dict[str, Any], webhook_id: str | None = None
) -> requests.Response:
    body = json.dumps(payload).encode()
    return requests.post(
        url, data=body, headers=signed_headers(secret, body, webhook_id), timeout=30
    )
