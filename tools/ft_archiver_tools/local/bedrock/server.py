"""A fake Amazon Bedrock control plane on 127.0.0.1, for Custom Model Import.

No emulator (moto, LocalStack) has CreateModelImportJob, so the import stage is tested
against this: a ``ThreadingHTTPServer`` speaking rest-json to boto3 over a real socket,
for CreateModelImportJob, GetModelImportJob, ListModelImportJobs, GetImportedModel,
ListImportedModels and DeleteImportedModel.

It enforces botocore's own service model (``service_model``: the model botocore ships,
not a copy): a request is routed by the model's ``http`` trait and refused with a
ValidationException for anything the model does not allow (patterns and maximums that
botocore's client does not check among them), and every answer, errors included, is
checked against the operation's output or error shapes before it is sent, so nothing
it serves is a shape botocore's model does not describe. The state behind it is
``jobs.ImportJobs``, whose docstring cites the AWS pages each behaviour comes from and
says which are assumptions.

Requests must carry a SigV4 ``Authorization`` whose credential scope names the service
``bedrock`` and the fake's region; any other is answered 403 AccessDeniedException (the
modelled one). The signature itself is not verified: the fake knows no secrets.

Errors (https://smithy.io/2.0/aws/protocols/aws-restjson1-protocol.html, "Operation error
serialization"; botocore's ``RestJSONParser`` reads them): the status of the error shape's
``error.httpStatusCode``, ``x-amzn-ErrorType: <Code>``, a JSON ``{"message": ...}`` body.
"""

import re
import sys
import threading
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Literal

from ft_archiver_tools.local.bedrock.jobs import (
    DEFAULT_ACCOUNT,
    DEFAULT_REGION,
    BedrockError,
    Call,
    ImportedModel,
    ImportJob,
    ImportJobs,
    Refusal,
)
from ft_archiver_tools.local.bedrock.service_model import (
    SERVICE_NAME,
    UnknownRouteError,
    WireResponse,
    error_problems,
    error_response,
    input_problems,
    modelled_errors,
    output_problems,
    output_response,
    parse_request,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["Call", "FakeBedrock", "ImportJob", "ImportedModel", "Refusal"]

# "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/bedrock/aws4_request, ..."
_SIGV4 = re.compile(
    r"AWS4-HMAC-SHA256 Credential=[^/\s,]+/\d{8}/(?P<region>[^/\s,]+)/(?P<service>[^/\s,]+)"
    r"/aws4_request"
)


class FakeBedrock:
    """Bedrock's import jobs and imported models behind an HTTP endpoint: start it (or use
    it as a context manager), point boto3 at ``endpoint_url``, read what it saw."""

    def __init__(
        self,
        *,
        region: str = DEFAULT_REGION,
        account: str = DEFAULT_ACCOUNT,
        concurrent_jobs: int = 1,
        max_models: int = 3,
        polls_to_finish: int = 2,
        s3_client: "S3Client | None" = None,
        unsupported_architecture: Literal["refuse", "fail"] = "refuse",
    ) -> None:
        """``s3_client``: with one, a Create reads the folder its ``s3Uri`` names (see
        ``folder``); without, every job that is not told to fail completes."""
        self.state = ImportJobs(
            region=region,
            account=account,
            concurrent_jobs=concurrent_jobs,
            max_models=max_models,
            polls_to_finish=polls_to_finish,
            s3_client=s3_client,
            unsupported_architecture=unsupported_architecture,
        )
        self._internal_errors: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> "FakeBedrock":
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> "FakeBedrock":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        assert self._server is not None, "FakeBedrock not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- the state, for tests ----------------------------------------------------------

    @property
    def region(self) -> str:
        return self.state.region

    @property
    def jobs(self) -> dict[str, ImportJob]:
        """Every import job, by ARN, in creation order (a copy)."""
        return self.state.jobs

    @property
    def models(self) -> dict[str, ImportedModel]:
        """Every imported model not deleted, by ARN (a copy)."""
        return self.state.models

    @property
    def requests(self) -> list[Call]:
        """(operation, params) of every request the model accepted, however answered."""
        return self.state.requests

    @property
    def refused(self) -> list[Refusal]:
        """(operation, params, problems) of every request refused before the state saw it:
        unsigned, throttled, unknown, or not valid by the model."""
        return self.state.refused

    @property
    def roles_seen(self) -> list[str]:
        return self.state.roles_seen

    @property
    def internal_errors(self) -> list[str]:
        """The fake's own mistakes: an answer its model would not allow, answered 500
        InternalServerException instead. A test's teardown asserts there are none."""
        with self._lock:
            return list(self._internal_errors)

    def fail_next_job(self, message: str) -> None:
        self.state.fail_next_job(message)

    def throttle_next(self, count: int = 1) -> None:
        self.state.throttle_next(count)

    # -- answering ---------------------------------------------------------------------

    def answer(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> WireResponse:
        """One HTTP request's answer; ``headers`` in any case."""
        lowered = {name.lower(): value for name, value in headers.items()}
        try:
            parsed = parse_request(method, target, lowered, body)
        except UnknownRouteError as exc:
            return self._refuse(f"{method} {target}", {}, "UnknownOperationException",
                                [f"no operation of the model is {exc}"])  # fmt: skip
        operation, params = parsed.operation, parsed.params
        denied = self._authorization_problem(lowered.get("authorization"))
        if denied is not None:
            return self._refuse(operation, params, "AccessDeniedException", [denied])
        if self.state.take_throttle():
            return self._refuse(operation, params, "ThrottlingException",
                                ["Rate exceeded (throttle_next)"])  # fmt: skip
        if operation not in self.state.operations:
            return self._refuse(operation, params, "UnknownOperationException",
                                [f"the fake does not implement {operation}"])  # fmt: skip
        problems = parsed.wire_problems + input_problems(operation, params)
        if problems:
            return self._refuse(operation, params, "ValidationException", problems)
        try:
            output = self.state.handle(operation, params)
        except BedrockError as error:
            return self._error(operation, error.code, error.message)
        problems = output_problems(operation, output)
        if problems:
            return self._internal_error(operation, f"its output breaks the model: {problems}")
        return output_response(operation, output)

    def _authorization_problem(self, authorization: str | None) -> str | None:
        if authorization is None:
            return "no Authorization header: requests to Bedrock are signed with SigV4"
        scope = _SIGV4.match(authorization)
        if scope is None:
            return f"the Authorization header is not SigV4: {authorization[:40]}..."
        if scope["service"] != SERVICE_NAME:
            return f"the credential scope names service {scope['service']}, not {SERVICE_NAME}"
        if scope["region"] != self.region:
            return f"the credential scope names region {scope['region']}, not {self.region}"
        return None

    def _refuse(
        self, operation: str, params: dict[str, Any], code: str, problems: list[str]
    ) -> WireResponse:
        self.state.refuse(operation, params, problems)
        if code == "ValidationException":
            count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''}"
            message = f"{count} detected: {'; '.join(problems)}"
        else:
            message = "; ".join(problems)
        return error_response(code, message)

    def _error(self, operation: str, code: str, message: str) -> WireResponse:
        if code not in modelled_errors(operation):
            return self._internal_error(operation, f"{operation} does not model {code}")
        problems = error_problems(code, message)
        if problems:
            return self._internal_error(operation, f"its {code} breaks the model: {problems}")
        return error_response(code, message)

    def _internal_error(self, operation: str, what: str) -> WireResponse:
        with self._lock:
            self._internal_errors.append(f"{operation}: {what}")
        return error_response("InternalServerException", f"fake Bedrock bug: {what}")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that dropped its keep-alive connection is not the fake's error."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeBedrock
    protocol_version = "HTTP/1.1"
    server_version = "FakeBedrock/1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            response = self.fake.answer(self.command, self.path, dict(self.headers), body)
        except Exception as exc:  # a bug of the fake's: said, not a dropped connection
            response = self.fake._internal_error(self.command, f"{type(exc).__name__}: {exc}")
        self.send_response(response.status)
        for name, value in {**response.headers, "x-amzn-RequestId": str(uuid.uuid4())}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)
