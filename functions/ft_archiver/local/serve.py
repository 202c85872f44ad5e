"""``ft-archiver serve``: the deployed topology on one machine.

The template's resources live in a moto server (created from template.yaml by
``infra.local_stack``); the webhook handler answers behind a local HTTP server that
hands it the same event a Lambda Function URL would; a poller feeds ArchiveQueue
messages to the archiver handler one at a time, as Lambda's SQS event source mapping
with batch size 1 and ReportBatchItemFailures does. The handlers see the environment
the template gives them.

One difference, for speed: a failed message is made visible again after
``retry_delay_s`` instead of the queue's 5400 s visibility timeout.
"""

import base64
import os
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ft_archiver.local.aws import REGION, TEST_CREDENTIALS, MotoServer
from infra.local_stack import LocalStack, deploy_local

POWERTOOLS_LOCAL = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_DEV": "false"}


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that Powertools and our handlers read."""

    function_name: str
    timeout_s: float
    memory_limit_in_mb: int = 1024
    function_version: str = "$LATEST"

    def __post_init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = (
            f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"
        )
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def function_url_event(
    method: str, path: str, headers: dict[str, str], body: bytes
) -> dict[str, Any]:
    """The payload format 2.0 event a Lambda Function URL delivers."""
    now = time.time()
    text_like = headers.get("content-type", "").startswith(("application/json", "text/"))
    try:
        encoded, is_base64 = (body.decode("utf-8"), False) if text_like else ("", True)
    except UnicodeDecodeError:
        encoded, is_base64 = "", True
    if is_base64:
        encoded = base64.b64encode(body).decode("ascii")
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": encoded,
        "isBase64Encoded": is_base64,
    }


def sqs_event(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping delivers for one message."""
    attributes = message.get("MessageAttributes", {})
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in attributes.items()
                },
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
        ]
    }


class _WebhookEndpoint(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _invoke(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        event = function_url_event(self.command, self.path, headers, body)
        from ft_archiver.handlers import webhook as webhook_handler

        try:
            result = webhook_handler.handler(event, LambdaContext("WebhookFunction", 10))
        except Exception:  # what a Function URL answers when the function raises
            result = {"statusCode": 502, "body": '{"Message":"Internal Server Error"}'}
        payload = result.get("body", "").encode()
        self.send_response(result["statusCode"])
        for name, value in result.get("headers", {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = _invoke  # noqa: N815 - the names http.server dispatches to
    do_GET = _invoke  # noqa: N815
    do_PUT = _invoke  # noqa: N815


class LocalDeployment:
    """moto + the template's resources + the webhook endpoint + the queue poller."""

    def __init__(
        self,
        together_api_key: str,
        together_base_url: str,
        *,
        name: str = "ft-archiver-local",
        retry_delay_s: int = 1,
        archiver_timeout_s: float = 900,
        extra_environment: dict[str, str] | None = None,
        part_min_size: int | None = None,
        schedule_every_s: float | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        self.aws = MotoServer(part_min_size=part_min_size)
        self.name = name
        self.together_api_key = together_api_key
        self.together_base_url = together_base_url
        self.retry_delay_s = retry_delay_s
        self.archiver_timeout_s = archiver_timeout_s
        self.extra_environment = extra_environment or {}
        self.schedule_every_s = schedule_every_s  # the poller's schedule; None: by hand
        self.parameters = parameters or {}
        self.stack: LocalStack | None = None
        self.environment: dict[str, str] = {}
        self._http: ThreadingHTTPServer | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._saved_environment: dict[str, str | None] = {}

    @property
    def webhook_url(self) -> str:
        assert self._http is not None
        return f"http://127.0.0.1:{self._http.server_address[1]}/"

    def start(self, poll: bool = True) -> "LocalDeployment":
        self.aws.start()
        self.stack = deploy_local(
            self.aws,
            self.name,
            together_api_key=self.together_api_key,
            together_base_url=self.together_base_url,
            parameters=self.parameters,
        )
        environment = {
            **TEST_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.aws.endpoint_url,
            **POWERTOOLS_LOCAL,
            **{k: v for env in self.stack.environments.values() for k, v in env.items()},
            **self.extra_environment,
        }
        self.environment = environment
        self._saved_environment = {key: os.environ.get(key) for key in environment}
        os.environ.update(environment)
        # Imported only now, so that Powertools reads the environment just set, as it
        # would at a Lambda cold start.
        from ft_archiver.handlers import dependencies

        dependencies.reset()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _WebhookEndpoint)
        self._http.daemon_threads = True
        self._spawn(self._http.serve_forever)
        if poll:
            self._spawn(self.poll_forever)
        if self.schedule_every_s is not None:
            self._spawn(self.schedule_forever)
        return self

    def _spawn(self, target: Any) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        for thread in self._threads:
            thread.join(timeout=30)
        for key, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        from ft_archiver.handlers import dependencies

        dependencies.reset()
        self.aws.stop()

    def __enter__(self) -> "LocalDeployment":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the poller's schedule (EventBridge Scheduler) ----------------------------------

    def schedule_forever(self) -> None:
        assert self.schedule_every_s is not None
        while not self._stop.wait(self.schedule_every_s):
            self.tick_poller()

    def tick_poller(self) -> dict[str, Any]:
        """Invoke the poller handler once, as a scheduled tick does."""
        from ft_archiver.handlers import poller as poller_handler

        event = {"source": "aws.scheduler", "detail-type": "Scheduled Event"}
        try:
            result: dict[str, Any] = poller_handler.handler(
                event, LambdaContext("PollerFunction", 120)
            )
            return result
        except Exception as exc:  # a crashed tick: the schedule simply fires again
            return {"ok": False, "error": type(exc).__name__}

    # -- the event source mapping ------------------------------------------------------

    def poll_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(wait_s=1)
            except Exception as exc:  # moto gone or refusing: say so once a second, go on
                if self._stop.is_set():
                    return
                print(f"serve: receiving from the queue failed ({type(exc).__name__})", flush=True)
                self._stop.wait(1)

    def poll_once(self, wait_s: int = 0, timeout_s: float | None = None) -> int:
        """Receive at most one message and run the archiver on it; returns how many ran."""
        assert self.stack is not None
        from ft_archiver.handlers import archiver as archiver_handler

        sqs = self.aws.client("sqs")
        messages = sqs.receive_message(
            QueueUrl=self.stack.queue_url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        for message in messages:
            context = LambdaContext("ArchiverFunction", timeout_s or self.archiver_timeout_s)
            try:
                result = archiver_handler.handler(sqs_event(message, self.stack.queue_arn), context)
                failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
            except Exception:  # a crashed invocation: Lambda retries the whole batch
                failed = {message["MessageId"]}
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=self.stack.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_delay_s,
                )
            else:
                sqs.delete_message(
                    QueueUrl=self.stack.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return len(messages)
