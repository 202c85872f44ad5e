"""Handing an archive too large for one function to the distributed state machine."""

import hashlib
from dataclasses import dataclass

from ft_archiver.domain.distributed import DistributedStart
from ft_archiver.domain.requests import Destination, ValidatedRequest
from ft_archiver.service.archive_plan import ArchivePlan
from ft_archiver.service.control import Delegated
from ft_archiver.service.distributed.ports import ExecutionStarter
from ft_archiver.service.resume import Lease

# How long the execution keeps the archive's lease: longer than any execution runs, so
# that duplicate requests wait for its outcome instead of starting a second one. The
# execution finishes or releases the lease itself.
EXECUTION_LEASE_S = 7 * 24 * 3600


@dataclass(frozen=True)
class Delegation:
    executions: ExecutionStarter
    threshold_bytes: int  # archives of at least this size take the distributed path

    def wants(self, plan: ArchivePlan) -> bool:
        return not plan.parts.single_request and plan.source.size >= self.threshold_bytes

    def delegate(
        self, valid: ValidatedRequest, destination: Destination, lease: Lease
    ) -> Delegated:
        lease.extend(EXECUTION_LEASE_S)
        start = DistributedStart(
            fine_tune_id=valid.ref.id,
            checkpoint_step=valid.ref.checkpoint_step,
            requested_type=valid.requested_type,
            explicit_key=valid.key,
            bucket=destination.bucket,
            prefix=destination.prefix,
            confine_keys=destination.confine_keys,
            lease_key=lease.key,
            owner=lease.owner,
        )
        return Delegated(self.executions.start(execution_name(lease), start.model_dump_json()))


def execution_name(lease: Lease) -> str:
    """At most 80 characters of [A-Za-z0-9-_]: the archive and this claim of it, so that a
    later request after a failed execution gets a new one."""
    archive = hashlib.sha256(lease.key.encode()).hexdigest()[:40]
    return f"archive-{archive}-{lease.owner[:16]}"
