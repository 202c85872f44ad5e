"""From a job and a selection to one queued archive request per archive.

Shared by the poller, by the archiver when a request carries a selection (it lists the
checkpoints and queues one request per archive instead of archiving), and by
``backfill --enqueue``.
"""

import time
from collections.abc import Sequence

from ft_archiver.domain.checkpoints import parse_job_ref
from ft_archiver.domain.job import FineTuneJob
from ft_archiver.domain.messages import ArchiveMessage, Origin
from ft_archiver.domain.selection import (
    FINAL,
    ArchiveTarget,
    Selection,
    expand_selection,
    parse_selection,
)
from ft_archiver.service.ports import ArchiveRequestQueue, CheckpointSource, JobLookup


def archive_messages(
    targets: Sequence[ArchiveTarget], origin: Origin, now: float
) -> list[ArchiveMessage]:
    return [
        ArchiveMessage(
            origin=origin,
            id=target.id,
            checkpoint_step=target.checkpoint_step,
            checkpoint_type=target.checkpoint_type,
            received_at=now,
        )
        for target in targets
    ]


def targets_for(
    source: CheckpointSource, job: FineTuneJob, selection: Selection
) -> list[ArchiveTarget]:
    """The job's archives; the checkpoint list is fetched only when the selection needs it."""
    checkpoints = [] if selection.checkpoints == FINAL else source.list_checkpoints(job.id)
    return list(expand_selection(job, checkpoints, selection).targets)


def fan_out(
    together: JobLookup, queue: ArchiveRequestQueue, message: ArchiveMessage
) -> list[ArchiveTarget]:
    """Expand a request's selection and queue one request per archive; returns them."""
    ref = parse_job_ref(message.id)
    job = together.retrieve(ref.id)
    selection = parse_selection(message.checkpoints, message.checkpoint_types)
    targets = targets_for(together, job, selection)
    queue.send_batch(archive_messages(targets, "selection", time.time()))
    return targets
