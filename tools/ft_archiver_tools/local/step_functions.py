"""The distributed archive's state machine on this machine, run by LocalStack's Step
Functions (an existing engine, not an interpreter of ours).

The definition is the very file template.yaml deploys (infra/archive.asl.json); its one
Lambda task resource is pointed at an activity instead (LocalStack's Lambda needs
Docker), and workers serve that activity by calling the handler Lambda would call, with
the task's input as the event and a context whose deadline is the function's timeout.
A handler's exception goes back as the task's failure, named and described the way
Lambda reports it to Step Functions, so that the definition's Retry and Catch see what
they would see in AWS.
"""

import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ft_archiver_tools.local.aws import REGION, TEST_CREDENTIALS
from ft_archiver_tools.local.serve import LambdaContext

DEFINITION = Path(__file__).resolve().parents[3] / "infra" / "archive.asl.json"
FUNCTION_ARN = "${ArchiveStepsFunctionArn}"
# Any role: LocalStack does not check it.
ROLE_ARN = "arn:aws:iam::000000000000:role/ft-archiver-local"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def local_definition(activity_arn: str) -> str:
    text = DEFINITION.read_text().replace(FUNCTION_ARN, activity_arn)
    if "${" in text:
        raise RuntimeError(f"{DEFINITION} has a substitution the local engine does not know")
    return text


def step_functions_client(endpoint_url: str) -> Any:
    # GetActivityTask is a long poll of up to 60 s: wait for it, never retry it.
    config = Config(read_timeout=80, retries={"max_attempts": 1}, region_name=REGION)
    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint_url,
        config=config,
        aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


class LocalStateMachine:
    """An activity, the state machine on it, and ``workers`` threads serving it."""

    def __init__(
        self,
        endpoint_url: str,
        handler: Handler,
        *,
        workers: int = 4,
        timeout_s: float = 900,
        name: str | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.handler = handler
        self.workers = workers
        self.timeout_s = timeout_s
        self.name = name or f"ft-archiver-{uuid.uuid4().hex[:8]}"
        self.activity_arn = ""
        self.arn = ""
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> "LocalStateMachine":
        # The workers share this process's clients (in Lambda each invocation has an
        # execution environment of its own): their pools overflow, harmlessly.
        logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
        client = step_functions_client(self.endpoint_url)
        self.activity_arn = client.create_activity(name=f"{self.name}-steps")["activityArn"]
        self.arn = client.create_state_machine(
            name=f"{self.name}-archive",
            definition=local_definition(self.activity_arn),
            roleArn=ROLE_ARN,
            type="STANDARD",
        )["stateMachineArn"]
        for number in range(self.workers):
            self.add_worker(f"worker-{number}")
        return self

    def add_worker(self, name: str) -> None:
        thread = threading.Thread(target=self._serve, args=(name,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        """Workers stop taking tasks; one waiting in a long poll is a daemon thread."""
        self._stop.set()

    def _serve(self, worker: str) -> None:
        client = step_functions_client(self.endpoint_url)
        while not self._stop.is_set():
            try:
                task = client.get_activity_task(activityArn=self.activity_arn, workerName=worker)
            except (ClientError, BotoCoreError):
                if self._stop.wait(1):
                    return
                continue
            token = task.get("taskToken")
            if not token or self._stop.is_set():
                continue
            run_task(client, token, json.loads(task["input"]), self.handler, self.timeout_s)


def run_task(
    client: Any, token: str, event: dict[str, Any], handler: Handler, timeout_s: float
) -> None:
    """One task, answered as Lambda answers Step Functions: the output, or the error's
    type as Error and ``{"errorMessage", "errorType"}`` as Cause."""
    context = LambdaContext("ArchiveStepsFunction", timeout_s)
    try:
        output = handler(event, context)
    except Exception as exc:  # every failure goes back to the state machine
        cause = json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__})
        answer: dict[str, Any] = {"error": type(exc).__name__, "cause": cause[:32_768]}
        send = client.send_task_failure
    else:
        answer = {"output": json.dumps(output)}
        send = client.send_task_success
    # A token no longer valid: the task timed out meanwhile and is retried elsewhere.
    with contextlib.suppress(ClientError, BotoCoreError):
        send(taskToken=token, **answer)
