"""The Archiver: Together, S3, EventBridge, the state table and the resumable SHA-256."""

from ft_archiver.adapters import sha256_state
from ft_archiver.adapters.s3 import S3Store
from ft_archiver.adapters.s3_held import S3HeldArchives
from ft_archiver.adapters.together.client import log_unexpected
from ft_archiver.service.archive import Archiver
from ft_archiver.service.delegation import Delegation
from ft_archiver.service.spans import Span, no_span
from ft_archiver.settings import ArchiverSettings, ArchivingSettings
from ft_archiver.wiring.aws import aws_client, state_store
from ft_archiver.wiring.options import event_publisher, transfer_options, transfer_s3_client
from ft_archiver.wiring.together import Unexpected, together_client


def build_archiver(
    settings: ArchivingSettings, span: Span = no_span, on_unexpected: Unexpected = log_unexpected
) -> Archiver:
    s3 = transfer_s3_client(settings)
    return Archiver(
        together=together_client(settings, on_unexpected),
        store=S3Store(s3, settings.checksum_mode),
        publisher=event_publisher(settings),
        options=transfer_options(settings),
        digests=sha256_state,
        held=S3HeldArchives(s3, settings.checksum_mode),
        ledger=state_store(settings),
        span=span,
        deadline_margin_s=settings.deadline_margin_s,
        max_continuations=settings.max_continuations,
        lease_s=settings.lease_s,
        delegation=delegation(settings),
    )


def delegation(settings: ArchivingSettings) -> Delegation | None:
    """ArchiverFunction hands huge archives to the state machine when the stack has one,
    and the store keeps full-object checksums: the distributed path proves an archive by
    them (in the other modes one function's continuations carry it)."""
    if not isinstance(settings, ArchiverSettings) or not settings.state_machine_arn:
        return None
    if settings.checksum_mode != "full-object":
        return None
    from ft_archiver.adapters.executions import StepFunctionsExecutions

    executions = StepFunctionsExecutions(
        aws_client("stepfunctions", settings), settings.state_machine_arn
    )
    return Delegation(executions, settings.fan_out_threshold)
