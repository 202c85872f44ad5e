"""A distributed archive's start, as the archiver hands it to the state machine, with
its lease already held in an in-memory ledger: what tests that call the steps directly
need before plan_distributed."""

from ft_archiver.domain.distributed import DistributedStart
from tests.support.fakes import FakeArchiveLedger


def held_start(
    fine_tune_id: str, bucket: str, prefix: str
) -> tuple[DistributedStart, FakeArchiveLedger]:
    ledger = FakeArchiveLedger()
    ledger.claim_archive("lease-1", "owner-1", 60, 3600)
    start = DistributedStart(
        fine_tune_id=fine_tune_id, checkpoint_step=None, requested_type="default",
        explicit_key=None, bucket=bucket, prefix=prefix, confine_keys=True,
        lease_key="lease-1", owner="owner-1",
    )  # fmt: skip
    return start, ledger
