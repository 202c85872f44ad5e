"""Batches of parts for the distributed path: each one Lambda invocation's run of
consecutive parts of one multipart upload. Pure.

A huge archive is uploaded by many invocations at once (a Distributed Map over these
batches); each invocation downloads and uploads its parts in order, so a batch is a run
of consecutive parts, and the batches together cover every part exactly once, in order.
"""

from dataclasses import dataclass

from ft_archiver.domain.parts import PartPlan
from ft_archiver.errors import ConfigurationError

# Batches of one archive at most: their list travels in the execution's state, which
# Step Functions limits to 256 KiB (about 30 bytes a batch). An archive that would need
# more gets larger batches.
MAX_BATCHES = 1000


@dataclass(frozen=True)
class Batch:
    first_part: int  # 1-based, as S3 numbers parts
    last_part: int  # inclusive
    start: int  # the first byte of the first part
    length: int  # bytes, all its parts together

    @property
    def parts(self) -> int:
        return self.last_part - self.first_part + 1

    @property
    def end(self) -> int:
        """Inclusive last byte, as an HTTP Range header wants it (start - 1 when empty)."""
        return self.start + self.length - 1


def parts_per_batch(plan: PartPlan, batch_bytes: int) -> int:
    """As many whole parts as fit in ``batch_bytes``, and at least one: a part larger than
    a batch is a batch of its own; and enough that there are at most MAX_BATCHES."""
    if batch_bytes < 1:
        raise ConfigurationError(f"batch size {batch_bytes} is not a positive number of bytes")
    return max(1, batch_bytes // plan.part_size, -(-plan.count // MAX_BATCHES))


def plan_batches(plan: PartPlan, batch_bytes: int) -> list[Batch]:
    """Runs of consecutive parts of at most ``batch_bytes`` each (at least one part per
    batch), covering every part of ``plan`` exactly once, in order. Every part but the
    last has the plan's part size, so every batch but the last has the same number of
    parts; an archive of one part (or none: a zero-byte archive is one empty part) is one
    batch."""
    per_batch = parts_per_batch(plan, batch_bytes)
    batches: list[Batch] = []
    for first in range(1, plan.count + 1, per_batch):
        last = min(first + per_batch - 1, plan.count)
        start = (first - 1) * plan.part_size
        end = min(last * plan.part_size, plan.size)  # exclusive
        batches.append(Batch(first, last, start, end - start))
    return batches
