"""``ft-archiver serve``: the deployed topology on one machine.

The template's resources live in a moto server (created from template.yaml by
``ft_archiver_tools.local.resources``); the webhook handler answers behind a local HTTP server that
hands it the same event a Lambda Function URL would; a poller feeds ArchiveQueue
messages to the archiver handler one at a time, as Lambda's SQS event source mapping
with batch size 1 and ReportBatchItemFailures does, and, with ``Unpack=true``,
UnpackQueue's messages (which moto's EventBridge rule delivers) to the unpacker handler
the same way; with ``Import=bedrock`` ImportQueue's to the import handler, which talks
to a fake Bedrock (``local/bedrock``, reached through AWS_ENDPOINT_URL_BEDROCK) that reads
the folders from moto's S3. The handlers see the environment the template gives them,
with the import's looks paced in seconds instead of minutes (IMPORT_PACE).

As in Lambda, a message the archiver reports failed comes back when its visibility
expires: the mapping leaves alone a delay the handler set itself (ChangeMessageVisibility).
One difference, for speed: a failed message whose handler set no delay (an invocation
that raised) is made visible again after ``retry_delay_s`` instead of the queue's 5400 s
visibility timeout. Every delivery is recorded in ``deliveries`` with the delay the
handler chose, and a test may then play the clock (``skip_delay``) instead of waiting.
"""

import base64
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import boto3

from ft_archiver_tools.local.aws import REGION, TEST_CREDENTIALS, MotoServer
from ft_archiver_tools.local.resources import LocalResources, deploy_local

if TYPE_CHECKING:
    from ft_archiver_tools.local.bedrock.server import FakeBedrock
    from ft_archiver_tools.local.step_functions import LocalStateMachine

POWERTOOLS_LOCAL = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_DEV": "false"}
# The import's looks a second apart, and a quota waited out in two (60 s and 300 s in
# the stack): the fake Bedrock finishes a job after a number of looks, not of minutes.
IMPORT_PACE = {"FT_ARCHIVER_IMPORT_POLL_EVERY": "1", "FT_ARCHIVER_IMPORT_QUOTA_WAIT": "2"}


IMPORT_TIMEOUT_S = 60  # ImportFunction's Timeout


def run_step(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """ArchiveStepsFunction's handler, imported once the environment is the function's."""
    from ft_archiver.handlers import archive_steps

    output: dict[str, Any] = archive_steps.handler(event, context)
    return output


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


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def run_archiver(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from ft_archiver.handlers import archiver

    output: dict[str, Any] = archiver.handler(event, context)
    return output


def run_unpacker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from ft_archiver.handlers import unpacker

    output: dict[str, Any] = unpacker.handler(event, context)
    return output


def run_importer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from ft_archiver.handlers import importer

    output: dict[str, Any] = importer.handler(event, context)
    return output


@dataclass(frozen=True)
class EventSource:
    """One SQS event source mapping: its queue and the function it invokes."""

    queue_url: str
    queue_arn: str
    function_name: str
    handler: Handler
    timeout_s: float


@dataclass(frozen=True)
class Delivery:
    """One message an event source mapping handed to its function (ArchiveQueue's to the
    archiver, UnpackQueue's to the unpacker)."""

    queue_url: str
    message_id: str
    receipt_handle: str
    receive_count: int  # ApproximateReceiveCount, this delivery included
    body: str
    failed: bool  # reported in batchItemFailures, or the invocation raised
    raised: bool  # the invocation raised: Lambda counts the whole batch failed
    # The VisibilityTimeout of the handler's own ChangeMessageVisibility for this
    # delivery (when it comes back); None when the handler set none.
    visibility_s: int | None


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
        unpacker_timeout_s: float = 900,
        extra_environment: dict[str, str] | None = None,
        part_min_size: int | None = None,
        schedule_every_s: float | None = None,
        parameters: dict[str, Any] | None = None,
        step_functions_endpoint: str | None = None,
        step_workers: int = 4,
        step_timeout_s: float = 900,
        bedrock_polls_to_finish: int = 2,
    ) -> None:
        self.aws = MotoServer(part_min_size=part_min_size)
        # Import=bedrock: the fake Bedrock, made at start (it reads moto's S3).
        self.bedrock: FakeBedrock | None = None
        self._bedrock_polls_to_finish = bedrock_polls_to_finish
        # LocalStack's Step Functions runs ArchiveStateMachine when given (the rest stays
        # in moto): ``step_workers`` threads serve its tasks with a ``step_timeout_s``
        # deadline each, as ArchiveStepsFunction's invocations would.
        self.step_functions_endpoint = step_functions_endpoint
        self.state_machine: LocalStateMachine | None = None
        self._step_workers = step_workers
        self._step_timeout_s = step_timeout_s
        self.name = name
        self.together_api_key = together_api_key
        self.together_base_url = together_base_url
        self.retry_delay_s = retry_delay_s
        self.archiver_timeout_s = archiver_timeout_s
        self.unpacker_timeout_s = unpacker_timeout_s
        self.extra_environment = extra_environment or {}
        self.schedule_every_s = schedule_every_s  # the poller's schedule; None: by hand
        self.parameters = parameters or {}
        self.stack: LocalResources | None = None
        self.environment: dict[str, str] = {}
        self._http: ThreadingHTTPServer | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._saved_environment: dict[str, str | None] = {}
        self.deliveries: list[Delivery] = []
        self._visibility_set: dict[str, int] = {}  # receipt handle -> VisibilityTimeout
        self._hook_id = f"ft-archiver-serve-{uuid.uuid4().hex}"

    @property
    def webhook_url(self) -> str:
        assert self._http is not None
        return f"http://127.0.0.1:{self._http.server_address[1]}/"

    def start(self, poll: bool = True) -> "LocalDeployment":
        """Everything up, or, when anything fails or is interrupted on the way, everything
        started so far stopped again (moto runs in a session of its own)."""
        try:
            return self._start(poll)
        except BaseException:
            self.stop()
            raise

    def _start(self, poll: bool) -> "LocalDeployment":
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
        }
        if self.stack.imports is not None:
            from ft_archiver_tools.local.bedrock.server import FakeBedrock

            self.bedrock = FakeBedrock(
                s3_client=self.aws.client("s3"), polls_to_finish=self._bedrock_polls_to_finish
            ).start()
            environment["AWS_ENDPOINT_URL_BEDROCK"] = self.bedrock.endpoint_url
            environment.update(IMPORT_PACE)
        environment.update(self.extra_environment)
        if self.step_functions_endpoint:
            from ft_archiver_tools.local.step_functions import LocalStateMachine

            self.state_machine = LocalStateMachine(
                self.step_functions_endpoint, run_step, workers=self._step_workers,
                timeout_s=self._step_timeout_s, name=self.name,
            ).start()  # fmt: skip
            environment["AWS_ENDPOINT_URL_SFN"] = self.step_functions_endpoint
            environment["ARCHIVE_STATE_MACHINE_ARN"] = self.state_machine.arn
        self.environment = environment
        self._saved_environment = {key: os.environ.get(key) for key in environment}
        os.environ.update(environment)
        # Imported only now, so that Powertools reads the environment just set, as it
        # would at a Lambda cold start.
        from ft_archiver.handlers import dependencies

        dependencies.reset()
        self._watch_visibility_changes()
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
        if self.state_machine is not None:
            self.state_machine.stop()
        if self.bedrock is not None:
            self.bedrock.stop()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        for thread in self._threads:
            thread.join(timeout=30)
        if boto3.DEFAULT_SESSION is not None:
            boto3.DEFAULT_SESSION.events.unregister(
                "before-parameter-build.sqs.ChangeMessageVisibility", unique_id=self._hook_id
            )
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

    def _watch_visibility_changes(self) -> None:
        """See the ChangeMessageVisibility calls the handlers make, as CloudTrail would:
        through botocore's event hooks on the default session, which every client the
        handlers build from now on inherits."""
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register(
            "before-parameter-build.sqs.ChangeMessageVisibility",
            self._saw_visibility_change,
            unique_id=self._hook_id,
        )

    def _saw_visibility_change(self, params: dict[str, Any], **_: Any) -> None:
        self._visibility_set[str(params["ReceiptHandle"])] = int(params["VisibilityTimeout"])

    def skip_delay(self, delivery: Delivery) -> None:
        """Make a failed delivery's message visible now, as if its delay had passed."""
        self.aws.client("sqs").change_message_visibility(
            QueueUrl=delivery.queue_url,
            ReceiptHandle=delivery.receipt_handle,
            VisibilityTimeout=0,
        )
        self._visibility_set.pop(delivery.receipt_handle, None)  # our own call, not the handler's

    @property
    def archive_source(self) -> EventSource:
        assert self.stack is not None
        return EventSource(self.stack.queue_url, self.stack.queue_arn, "ArchiverFunction",
                           run_archiver, self.archiver_timeout_s)  # fmt: skip

    @property
    def unpack_source(self) -> EventSource | None:
        """UnpackQueue's mapping, with Unpack=true."""
        assert self.stack is not None
        unpack = self.stack.unpack
        if unpack is None:
            return None
        return EventSource(unpack.queue_url, unpack.queue_arn, "UnpackFunction",
                           run_unpacker, self.unpacker_timeout_s)  # fmt: skip

    @property
    def import_source(self) -> EventSource | None:
        """ImportQueue's mapping, with Import=bedrock."""
        assert self.stack is not None
        imports = self.stack.imports
        if imports is None:
            return None
        return EventSource(imports.queue_url, imports.queue_arn, "ImportFunction",
                           run_importer, IMPORT_TIMEOUT_S)  # fmt: skip

    def poll_forever(self) -> None:
        """The mappings one after the other: one invocation at a time in this process."""
        while not self._stop.is_set():
            try:
                stages = [s for s in (self.unpack_source, self.import_source) if s is not None]
                made = self.deliver(wait_s=0 if stages else 1)
                for stage in stages:
                    made += self.deliver_from(stage, wait_s=0)
                if stages and not made:
                    self._stop.wait(0.5)
            except Exception as exc:  # moto gone or refusing: say so once a second, go on
                if self._stop.is_set():
                    return
                print(f"serve: receiving from a queue failed ({type(exc).__name__})", flush=True)
                self._stop.wait(1)

    def poll_once(self, wait_s: int = 0, timeout_s: float | None = None) -> int:
        """Receive at most one message and run the archiver on it; returns how many ran."""
        return len(self.deliver(wait_s, timeout_s))

    def deliver(self, wait_s: int = 0, timeout_s: float | None = None) -> list[Delivery]:
        """Receive at most one ArchiveQueue message and run the archiver on it."""
        return self.deliver_from(self.archive_source, wait_s, timeout_s)

    def deliver_unpack(self, wait_s: int = 0, timeout_s: float | None = None) -> list[Delivery]:
        """Receive at most one UnpackQueue message and run the unpacker on it."""
        source = self.unpack_source
        assert source is not None, "the stack was deployed without Unpack=true"
        return self.deliver_from(source, wait_s, timeout_s)

    def deliver_import(self, wait_s: int = 0) -> list[Delivery]:
        """Receive at most one ImportQueue message and run the import handler on it."""
        source = self.import_source
        assert source is not None, "the stack was deployed without Import=bedrock"
        return self.deliver_from(source, wait_s)

    def deliver_from(
        self, source: EventSource, wait_s: int = 0, timeout_s: float | None = None
    ) -> list[Delivery]:
        """Receive at most one message of the source's queue and run its function on it;
        returns the delivery made (also recorded in ``deliveries``)."""
        sqs = self.aws.client("sqs")
        messages = sqs.receive_message(
            QueueUrl=source.queue_url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        made: list[Delivery] = []
        for message in messages:
            receipt = message["ReceiptHandle"]
            context = LambdaContext(source.function_name, timeout_s or source.timeout_s)
            raised = False
            try:
                result = source.handler(sqs_event(message, source.queue_arn), context)
                failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
            except Exception:  # a crashed invocation: Lambda retries the whole batch
                failed = {message["MessageId"]}
                raised = True
            chosen = self._visibility_set.pop(receipt, None)
            if message["MessageId"] in failed:
                # Lambda leaves a failed message to its visibility: the handler's delay if
                # it set one, else the queue's timeout, for which retry_delay_s stands in.
                if chosen is None:
                    sqs.change_message_visibility(
                        QueueUrl=source.queue_url,
                        ReceiptHandle=receipt,
                        VisibilityTimeout=self.retry_delay_s,
                    )
                    self._visibility_set.pop(receipt, None)  # our own call
            else:
                sqs.delete_message(QueueUrl=source.queue_url, ReceiptHandle=receipt)
            made.append(
                Delivery(
                    queue_url=source.queue_url,
                    message_id=message["MessageId"],
                    receipt_handle=receipt,
                    receive_count=int(
                        message.get("Attributes", {}).get("ApproximateReceiveCount", 1)
                    ),
                    body=message["Body"],
                    failed=message["MessageId"] in failed,
                    raised=raised,
                    visibility_s=chosen,
                )
            )
        self.deliveries.extend(made)
        return made
