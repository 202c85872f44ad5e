"""Standard Webhooks verification and the job-completion payload: pure, no I/O.

Signature: ``webhook-signature`` holds space-separated ``v1,<base64 HMAC-SHA256>`` of
``{webhook-id}.{webhook-timestamp}.{body}`` under the key in ``whsec_<base64>``; several
are accepted so a sender can rotate secrets. Timestamps more than five minutes away
from now are refused, so a captured request cannot be replayed later.

Filtering: a webhook is an archive request when its event type (enveloped form) is
``fine_tuning.job.completed`` or ``fine_tuning.job.succeeded`` and its ``status``, if
given, is ``completed``; both are compared case-insensitively, so
``Fine_Tuning.Job.Completed`` and ``COMPLETED`` match.

Replays: a webhook-id names one message. Its first accepted delivery is remembered with
``body_digest`` of the body; a later delivery with the same id is a duplicate when the
digests agree (a sender's retry, re-signed at a later timestamp) and a reuse of the id
for another message when they do not.
"""

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from ft_archiver.errors import ArchiverError

MAX_BODY_BYTES = 64 * 1024
TOLERANCE_S = 5 * 60
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
COMPLETED_TYPES = frozenset({"fine_tuning.job.completed", "fine_tuning.job.succeeded"})
COMPLETED_STATUS = "completed"


class RefusalCode(StrEnum):
    """Why a webhook is refused, machine-readable: the ``error`` of the answer. The
    WebhookErrors below carry theirs; the last three are the intake's and the handler's."""

    BAD_REQUEST = "bad_request"  # a request that cannot be read (a body not base64)
    METHOD_NOT_ALLOWED = "method_not_allowed"  # not a POST
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    INVALID_SIGNATURE = "invalid_signature"
    MALFORMED_JSON = "malformed_json"
    INVALID_PAYLOAD = "invalid_payload"
    RULE_VIOLATION = "rule_violation"  # a lookup-free rule of the request broken
    WEBHOOK_ID_REUSED = "webhook_id_reused"  # the webhook-id came before with another body
    UNAVAILABLE = "unavailable"  # nothing could be queued now: the sender should retry


class WebhookError(ArchiverError):
    """A webhook request that is refused; ``code`` says why."""

    code: ClassVar[RefusalCode] = RefusalCode.BAD_REQUEST


class PayloadTooLargeError(WebhookError):
    code = RefusalCode.PAYLOAD_TOO_LARGE


class UnsupportedMediaTypeError(WebhookError):
    code = RefusalCode.UNSUPPORTED_MEDIA_TYPE


class SignatureError(WebhookError):
    code = RefusalCode.INVALID_SIGNATURE


class MalformedJsonError(WebhookError):
    code = RefusalCode.MALFORMED_JSON


class SchemaError(WebhookError):
    code = RefusalCode.INVALID_PAYLOAD


class JobCompletion(BaseModel):
    """The flat form; also the ``data`` of the enveloped form."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: StrictStr = Field(min_length=1, max_length=256)
    status: StrictStr | None = Field(default=None, max_length=64)
    checkpoint_step: StrictInt | None = None
    checkpoint_type: StrictStr | None = Field(default=None, max_length=64)
    key: StrictStr | None = Field(default=None, max_length=2048)
    # A selection: every archive of the job it names instead of one (see domain.selection).
    checkpoints: StrictStr | list[StrictInt] | None = Field(default=None, max_length=1000)
    checkpoint_types: StrictStr | None = Field(default=None, max_length=64)

    @property
    def has_selection(self) -> bool:
        return self.checkpoints is not None or self.checkpoint_types is not None


class Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: StrictStr = Field(max_length=128)
    data: JobCompletion


@dataclass(frozen=True)
class SeenWebhook:
    """What the first accepted delivery of a webhook-id left in the ledger. Either field
    may be None: ``body_digest`` for an id claimed before digests were stored,
    ``message_id`` until the first delivery has recorded it."""

    body_digest: str | None
    message_id: str | None


def body_digest(body: bytes) -> str:
    """SHA-256 hex of the raw body: how deliveries of one webhook-id are compared."""
    return hashlib.sha256(body).hexdigest()


def decode_secret(secret: str) -> bytes:
    """``whsec_<base64>`` (the prefix is optional) to the HMAC key."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the webhook secret is not whsec_<base64>") from None
    if not key:
        raise ValueError("the webhook secret is empty")
    return key


def sign(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature: what a sender puts in ``webhook-signature``."""
    content = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def check_size_and_type(headers: Mapping[str, str], body: bytes) -> None:
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(
            f"body is {len(body)} bytes; webhooks are limited to {MAX_BODY_BYTES} bytes"
        )
    content_type = headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaTypeError(
            f"Content-Type must be application/json, not {content_type[:100]!r}"
        )


def verify_signature(keys: list[bytes], headers: Mapping[str, str], body: bytes, now: float) -> str:
    """Return the webhook-id of a correctly signed, timely request; else SignatureError."""
    missing = [
        name
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
        if not headers.get(name)
    ]
    if missing:
        raise SignatureError(f"missing header(s): {', '.join(missing)}")
    webhook_id = headers["webhook-id"]
    if len(webhook_id) > 256 or not webhook_id.isprintable():
        raise SignatureError("webhook-id must be at most 256 printable characters")
    stamp = headers["webhook-timestamp"]
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise SignatureError("webhook-timestamp must be whole seconds since the epoch")
    timestamp = int(stamp)
    if abs(now - timestamp) > TOLERANCE_S:
        raise SignatureError(
            f"webhook-timestamp is {int(now - timestamp)} s from now; at most "
            f"{TOLERANCE_S} s either way is accepted"
        )
    offered = [
        value.split(",", 1)[1]
        for value in headers["webhook-signature"].split()
        if value.startswith("v1,")
    ]
    for key in keys:
        expected = sign(key, webhook_id, timestamp, body).split(",", 1)[1]
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return webhook_id
    raise SignatureError("no valid v1 signature for this body")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise MalformedJsonError(f"duplicate JSON key {key!r}")
        seen[key] = value
    return seen


def _reject_constant(name: str) -> None:
    raise MalformedJsonError(f"{name} is not JSON")


def parse_payload(body: bytes) -> tuple[str | None, JobCompletion]:
    """(event type or None for the flat form, the completion) from a body."""
    try:
        document = json.loads(
            body.decode("utf-8"),
            object_pairs_hook=_unique_keys,
            parse_constant=_reject_constant,
        )
    except UnicodeDecodeError:
        raise MalformedJsonError("body is not UTF-8") from None
    except RecursionError:
        raise MalformedJsonError("body nests too deeply") from None
    except json.JSONDecodeError as exc:
        raise MalformedJsonError(f"body is not JSON: {exc.msg} at character {exc.pos}") from None
    if not isinstance(document, dict):
        raise SchemaError("body must be a JSON object")
    try:
        if "type" in document or "data" in document:
            envelope = Envelope.model_validate(document)
            return envelope.type, envelope.data
        return None, JobCompletion.model_validate(document)
    except ValidationError as exc:
        raise SchemaError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    return f"field {field!r}: {first['msg']}"


def ignore_reason(event_type: str | None, completion: JobCompletion) -> str | None:
    """Why a well-formed webhook is not an archive request, or None when it is one."""
    if event_type is not None and event_type.lower() not in COMPLETED_TYPES:
        return f"event type {event_type!r} is not a completed fine-tune"
    if completion.status is not None and completion.status.lower() != COMPLETED_STATUS:
        return f"status is {completion.status!r}, not 'completed'"
    return None
