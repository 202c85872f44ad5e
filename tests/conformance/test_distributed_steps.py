"""The distributed path's S3 work on both servers, without Step Functions: the steps the
state machine runs (plan, every batch's parts, Complete with the full-object CRC
combined from the parts', the read-back SHA-256, finish) called in order, as
test_distributed.py has LocalStack's Step Functions call them over moto. Together and
the state table are in memory; S3 is the server's."""

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from ft_archiver.adapters import sha256_state
from ft_archiver.adapters.s3 import S3Store
from ft_archiver.adapters.s3_stored import S3StoredObjects
from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.domain.events import ARCHIVE_FAILED, ARCHIVED
from ft_archiver.domain.parts import Lanes
from ft_archiver.errors import StorageError
from ft_archiver.service.announce import Announcer
from ft_archiver.service.archive_plan import TransferOptions
from ft_archiver.service.distributed.abort_step import abort_archive
from ft_archiver.service.distributed.batch_step import upload_batch
from ft_archiver.service.distributed.complete_step import complete_upload
from ft_archiver.service.distributed.finish_step import finish_archive
from ft_archiver.service.distributed.plan_step import DistributedOptions, plan_distributed
from ft_archiver.service.distributed.verify_step import read_back_sha256
from ft_archiver.service.spans import no_span
from ft_archiver.wiring.aws import aws_client
from tests.support.distributed import held_start
from tests.support.fakes import FakePartDigests, FakePublisher, FakeTogether
from tests.support.faults import body_of, tamper

from .conftest import Target

MIB = 1024 * 1024
PART = 5 * MIB  # S3's smallest part, which LocalStack enforces
DATA = bytes((i * 7) % 251 for i in range(4 * PART + 321))  # 5 parts, 3 batches
CRC64 = ALGORITHMS["CRC64NVME"]
JOB = {"id": "ft-0123abcd", "status": "completed", "model_output_name": "acme/spread",
       "training_type": {"type": "Lora"}}  # fmt: skip


class Steps:
    """One distributed archive on ``target``'s S3, planned and ready for its batches."""

    def __init__(self, target: Target) -> None:
        self.s3 = aws_client("s3", target.settings)
        self.together = FakeTogether(DATA, JOB, [])
        self.store, self.stored = S3Store(self.s3), S3StoredObjects(self.s3)
        self.digests = FakePartDigests()
        self.publisher = FakePublisher()
        start, self.ledger = held_start(str(JOB["id"]), target.bucket, "spread/")
        options = TransferOptions(
            part_size=PART, part_size_floor=PART, concurrency=2, upload_concurrency=2,
            memory_budget=1 << 26, algorithm=CRC64,
        )  # fmt: skip
        spread = DistributedOptions(workers=2, batch_bytes=2 * PART, batch_timeout_s=900,
                                    verify_sha256_up_to=1 << 30)  # fmt: skip
        self.plan, self.batches = plan_distributed(
            start, self.together, self.store, options, spread, self.ledger
        )

    def upload(self) -> None:
        for batch in self.batches:
            upload_batch(self.plan, batch, self.together, self.store, self.digests,
                         Lanes(2, 2, 2), lambda: 100.0, 1.0)  # fmt: skip

    def abort(self, error: tuple[str, str, bool]) -> None:
        abort_archive(
            self.plan.start, self.plan, self.batches, None, error, self.store, self.digests,
            self.ledger, Announcer(self.publisher, no_span),
        )  # fmt: skip


def test_a_distributed_archive_completes_verified_on_the_server(target: Target) -> None:
    steps = Steps(target)
    assert (steps.plan.parts, len(steps.batches)) == (5, 3)
    steps.upload()
    completed = complete_upload(steps.plan, steps.batches, steps.store, steps.digests,
                                steps.stored)  # fmt: skip
    assert completed.checksum == CRC64.encode(CRC64.compute(DATA))  # combined from the parts'
    hashed = read_back_sha256(steps.plan, completed, None, steps.stored, sha256_state,
                              lambda: 100.0, 1.0)  # fmt: skip
    expected = hashlib.sha256(DATA).hexdigest()
    assert (hashed.more, hashed.sha256) == (False, expected)
    finish_archive(
        steps.plan, steps.batches, completed, hashed.sha256, datetime.now(UTC), steps.together,
        steps.store, steps.digests, steps.ledger, Announcer(steps.publisher, no_span),
    )  # fmt: skip
    key = steps.plan.key
    assert target.stored.sha256_of(key) == expected
    head = steps.s3.head_object(Bucket=target.bucket, Key=key, ChecksumMode="ENABLED")
    assert (head["ChecksumType"], head["ChecksumCRC64NVME"]) == ("FULL_OBJECT", completed.checksum)
    assert target.stored.tags(key)["sha256"] == expected
    assert target.stored.open_uploads() == []
    [(kind, detail)] = steps.publisher.events
    assert (kind, detail["sha256"], detail["parts"]) == (ARCHIVED, expected, 5)


def test_a_corrupt_part_of_a_batch_is_refused_and_abort_leaves_nothing(target: Target) -> None:
    steps = Steps(target)

    def flip(params: dict[str, Any]) -> None:
        if params["PartNumber"] == 4:
            data = bytearray(body_of(params))
            data[0] ^= 1
            params["Body"] = bytes(data)

    tamper(steps.s3, "UploadPart", flip)
    with pytest.raises(StorageError, match="BadDigest"):
        steps.upload()
    steps.abort(("StorageError", "BadDigest", False))
    assert target.stored.keys() == []
    assert target.stored.open_uploads() == []
    assert [kind for kind, _ in steps.publisher.events] == [ARCHIVE_FAILED]
