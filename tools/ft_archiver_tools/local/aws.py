"""An AWS emulator for the demo and the tests: moto's server mode in its own process.

Every boto3 call crosses a real socket with AWS's wire formats; the process keeps moto's
memory (it assembles whole objects in RAM) and its GIL away from the archiver.
"""

import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

import boto3
import requests

REGION = "us-east-1"
TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """moto's server (with atomic DynamoDB requests: ``moto_process``) on a free loopback
    port; stopped on exit."""

    def __init__(self, part_min_size: int | None = None) -> None:
        self.part_min_size = part_min_size
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self.credentials: tuple[str, str, str | None] = ("testing", "testing", None)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> "MotoServer":
        env = {**os.environ, **TEST_CREDENTIALS}
        if self.part_min_size is not None:
            env["S3_UPLOAD_PART_MIN_SIZE"] = str(self.part_min_size)
        for _ in range(5):  # another process may take the port between probe and bind
            self.port = free_port()
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ft_archiver_tools.local.moto_process",
                    "127.0.0.1",
                    str(self.port),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                # Its own session: a Ctrl-C at the terminal reaches only us, and we stop it
                # after the threads that use it (otherwise it dies first, under them).
                start_new_session=True,
            )
            try:
                ready = self._wait_ready(timeout_s)
            except BaseException:  # interrupted while it starts: it is in a session of its own
                self.stop()
                raise
            if ready:
                return self
            self.stop()
        raise RuntimeError("moto server did not start on 127.0.0.1")

    def _wait_ready(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                requests.get(f"{self.endpoint_url}/moto-api/", timeout=1)
                return True
            except requests.RequestException:
                time.sleep(0.1)
        return False

    def reset(self) -> None:
        """Forget every resource: a clean account for the next test."""
        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=10)

    def stop(self) -> None:
        """Terminate, then kill after 10 s, or at once when the wait is interrupted."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except BaseException as exc:
            process.kill()
            process.wait()
            if not isinstance(exc, subprocess.TimeoutExpired):
                raise

    def __enter__(self) -> "MotoServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client(self, service: str) -> Any:
        """A client signed with ``credentials``: moto's test keys, unless a test that
        has moto enforce IAM set others (key, secret, session token or None)."""
        key, secret, token = self.credentials
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
        )


def capture_events(server: MotoServer, bus_name: str, queue_name: str) -> str:
    """A rule on the bus that forwards every ft-archiver event to a new SQS queue, so
    tests and the demo can read back what was emitted. Returns the queue's URL."""
    sqs = server.client("sqs")
    queue_url: str = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events = server.client("events")
    rule_name = f"{queue_name}-rule"
    rule_arn = events.put_rule(
        Name=rule_name,
        EventBusName=bus_name,
        EventPattern=json.dumps({"source": ["ft-archiver"]}),
    )["RuleArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    events.put_targets(
        Rule=rule_name, EventBusName=bus_name, Targets=[{"Id": "capture", "Arn": queue_arn}]
    )
    return queue_url


def read_events(server: MotoServer, queue_url: str, wait_s: float = 5.0) -> list[dict[str, Any]]:
    """Drain the capture queue: the EventBridge events that arrived, oldest first."""
    sqs = server.client("sqs")
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if found and not messages:
            break
    return found
