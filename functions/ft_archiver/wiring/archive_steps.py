"""The distributed archive's steps: Together, S3, the state table, EventBridge."""

from dataclasses import dataclass

from ft_archiver.adapters import sha256_state
from ft_archiver.adapters.part_digests import DynamoPartDigests
from ft_archiver.adapters.s3 import S3Store
from ft_archiver.adapters.s3_stored import S3StoredObjects
from ft_archiver.adapters.state import DynamoStateStore
from ft_archiver.adapters.together import TogetherClient
from ft_archiver.adapters.together.client import log_unexpected
from ft_archiver.service.announce import Announcer
from ft_archiver.service.archive_plan import TransferOptions
from ft_archiver.service.distributed.plan_step import DistributedOptions
from ft_archiver.service.ports import Digests
from ft_archiver.service.spans import no_span
from ft_archiver.settings import ArchiveStepsSettings
from ft_archiver.wiring.aws import aws_client
from ft_archiver.wiring.options import event_publisher, transfer_options, transfer_s3_client
from ft_archiver.wiring.together import Unexpected, together_client


@dataclass(frozen=True)
class ArchiveSteps:
    together: TogetherClient
    store: S3Store
    stored: S3StoredObjects  # what is already in the bucket
    digests: DynamoPartDigests
    ledger: DynamoStateStore
    announcer: Announcer
    options: TransferOptions
    distributed: DistributedOptions
    deadline_margin_s: float
    digest_factory: Digests = sha256_state  # the resumable SHA-256


def build_archive_steps(
    settings: ArchiveStepsSettings, on_unexpected: Unexpected = log_unexpected
) -> ArchiveSteps:
    dynamodb = aws_client("dynamodb", settings)
    s3 = transfer_s3_client(settings)
    return ArchiveSteps(
        together=together_client(settings, on_unexpected),
        store=S3Store(s3),
        stored=S3StoredObjects(s3),
        digests=DynamoPartDigests(dynamodb, settings.state_table_name),
        ledger=DynamoStateStore(dynamodb, settings.state_table_name),
        announcer=Announcer(event_publisher(settings), no_span),
        options=transfer_options(settings),
        distributed=DistributedOptions(
            workers=settings.distributed_workers,
            batch_bytes=settings.distributed_batch_bytes,
            batch_timeout_s=settings.distributed_batch_timeout_s,
            verify_sha256_up_to=settings.verify_sha256_up_to,
        ),
        deadline_margin_s=settings.deadline_margin_s,
    )
