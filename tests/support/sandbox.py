"""template.yaml's resources in moto with the Together simulator they point at, a look into
the archive bucket, a capture of the bus and the archive queue's depth: what the
integration suite's worlds (Harness, Topology, World) and the reliability trials stand on.
"""

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Self

from ft_archiver_tools.local.aws import MotoServer
from ft_archiver_tools.local.resources import LocalResources, deploy_local
from ft_archiver_tools.local.serve import LocalDeployment
from ft_archiver_tools.local.simulator import TogetherSimulator

from .aws import PART_MIN_SIZE
from .bucket import BucketInspector
from .events import EventCapture
from .settings import TEST_TUNING, archiver_variables


class Sandbox:
    """One deployment of the template's resources, and a test's handles on it."""

    prefix: str | None = None  # the archiver's ARCHIVE_PREFIX here; None: its default

    def __init__(
        self,
        aws: MotoServer,
        together: TogetherSimulator,
        stack: LocalResources,
        *,
        capture: str,
        wait_s: float,
    ) -> None:
        """``capture``: the name of the events' queue; ``wait_s``: how long a read of
        the events waits for a first one."""
        self.aws = aws
        self.together = together
        self.stack = stack
        self.stored = BucketInspector(aws.client("s3"), stack.bucket)
        self.events = EventCapture(aws, stack.bus_name, capture, wait_s)
        self.sqs: Any = aws.client("sqs")

    @classmethod
    def deploy(
        cls, aws: MotoServer, together: TogetherSimulator, name: str, *, wait_s: float = 3.0
    ) -> Self:
        """Every resource of the template, named after ``name``, reading ``together``."""
        stack = deploy_local(
            aws, name, together_api_key=together.api_key, together_base_url=together.base_url
        )
        return cls(aws, together, stack, capture=f"{name}-capture", wait_s=wait_s)

    @property
    def bucket(self) -> str:
        return self.stack.bucket

    def variables(
        self, tuning: Mapping[str, str] = TEST_TUNING, **overrides: str | int | float
    ) -> dict[str, str]:
        """The variables of an archiver that reads this simulator and writes to this
        bucket, under ``prefix``, and to this bus."""
        return archiver_variables(self.together, bucket=self.bucket, prefix=self.prefix,
                                  bus=self.stack.bus_name, tuning=tuning, **overrides)  # fmt: skip

    def queued(self, url: str | None = None) -> int:
        """The messages in ArchiveQueue (or the queue at ``url``), visible or held by a
        consumer."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.stack.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    def drain(self, url: str) -> None:
        """Delete whatever is visible (PurgeQueue is allowed once a minute only)."""
        while messages := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in messages:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


class ServedSandbox(Sandbox):
    """The sandbox of a local deployment (``ft-archiver serve``'s topology), whose
    functions' handlers run in this process as the test drives them."""

    def __init__(self, local: LocalDeployment, together: TogetherSimulator, wait_s: float) -> None:
        assert local.stack is not None, "the deployment is not started"
        capture = f"cap-{time.time_ns()}"  # the deployment outlives one test's sandbox
        super().__init__(local.aws, together, local.stack, capture=capture, wait_s=wait_s)
        self.local = local


@contextmanager
def local_deployment(
    together: TogetherSimulator, name: str, environment: Mapping[str, str], **options: Any
) -> Iterator[LocalDeployment]:
    """The deployed topology (``ft-archiver serve``'s), driven by the test: no thread
    polls the queue, a failed message is back at once, and the functions see
    ``environment`` (``settings.archiver_variables``) over the template's; ``options``
    go to LocalDeployment (a Step Functions endpoint, its workers)."""
    local = LocalDeployment(
        together.api_key,
        together.base_url,
        name=name,
        retry_delay_s=0,
        extra_environment=dict(environment),
        part_min_size=PART_MIN_SIZE,
        **options,
    )
    local.start(poll=False)
    try:
        yield local
    finally:
        local.stop()
