"""One batch of consecutive parts: ranged GETs into UploadPart with each part's CRC, as
the single archiver does, and each finished part's SHA-256 recorded.

Safe to run again: parts already recorded are not fetched again. Near the invocation's
deadline no new part is taken and the answer says ``more``: the state machine invokes
the batch again. The upload is never aborted here (a failed batch is retried; Abort, at
the end of the state machine, ends the upload).
"""

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from ft_archiver.domain.distributed import BatchItem, BatchProgress, DistributedPlan
from ft_archiver.domain.parts import Lanes, PartRange
from ft_archiver.errors import SourceChangedError, TransferCancelledError
from ft_archiver.service.distributed.common import download_of, parts_of, target_of
from ft_archiver.service.distributed.ports import PartDigest, PartDigests
from ft_archiver.service.futures import raise_first_failure
from ft_archiver.service.part_buffers import BufferPool
from ft_archiver.service.ports import ArchiveSource, FineTuneSource, ObjectStore, PartUpload


def upload_batch(
    plan: DistributedPlan,
    batch: BatchItem,
    together: FineTuneSource,
    store: ObjectStore,
    digests: PartDigests,
    lanes: Lanes,
    remaining_s: Callable[[], float],
    margin_s: float,
) -> BatchProgress:
    archive = plan.start.lease_key
    recorded = digests.recorded(archive, batch)
    todo = [
        part
        for part in parts_of(plan).ranges()
        if batch.first <= part.number <= batch.last and part.number not in recorded
    ]
    size = batch.last - batch.first + 1
    if not todo:
        return BatchProgress(more=False, parts_done=size)
    source = together.open_download(download_of(plan))
    if source.size != plan.size or (plan.source_etag and source.etag != plan.source_etag):
        raise SourceChangedError(
            f"the archive changed since it was planned (size {plan.size:,} -> {source.size:,}, "
            f"ETag {plan.source_etag} -> {source.etag})"
        )
    with store.resume_multipart(target_of(plan), plan.upload_id) as upload:
        try:
            moved = _move_parts(plan, batch, todo, source, together, upload, digests, lanes,
                                lambda: remaining_s() < margin_s)  # fmt: skip
        finally:
            upload.suspend()
    done = size - len(todo) + moved
    return BatchProgress(more=done < size, parts_done=done)


def _move_parts(
    plan: DistributedPlan,
    batch: BatchItem,
    todo: list[PartRange],
    source: ArchiveSource,
    together: FineTuneSource,
    upload: PartUpload,
    digests: PartDigests,
    lanes: Lanes,
    deadline_near: Callable[[], bool],
) -> int:
    """The parts of ``todo`` moved before the deadline came near (all, usually)."""
    # one thread moves a part from its GET to its UploadPart: as many as both stages allow
    lanes_used = max(1, min(lanes.downloads, lanes.uploads, lanes.buffers))
    pool = BufferPool(lanes_used, plan.part_size)
    cancel = threading.Event()
    algorithm = target_of(plan).algorithm

    def move(part: PartRange, buffer: bytearray) -> None:
        try:
            view = memoryview(buffer)[: part.length]
            together.read_range(source, part.start, view, cancel)
            crc = algorithm.compute(view)
            sha256 = hashlib.sha256(view).hexdigest()  # releases the GIL
            upload.upload_part(part.number, view, crc)
            digests.record(plan.start.lease_key, batch, part.number, PartDigest(crc, sha256))
        except BaseException:
            cancel.set()
            raise
        finally:
            pool.release(buffer)

    futures: list[Future[None]] = []
    with ThreadPoolExecutor(lanes_used, thread_name_prefix="ft-batch") as workers:
        try:
            for part in todo:
                if deadline_near():
                    break
                buffer = pool.acquire(cancel)
                futures.append(workers.submit(move, part, buffer))
        except TransferCancelledError:
            pass  # a part failed: its error is raised below
        except BaseException:
            cancel.set()
            raise
    raise_first_failure(futures, cancel)
    return len(futures)
