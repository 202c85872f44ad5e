"""The whole archive's SHA-256, read back from S3 after Complete, over as many
invocations as it takes: each goes on from the SHA-256 midstate the last one saved."""

import base64
from collections.abc import Callable

from ft_archiver.domain.distributed import CompletedUpload, DistributedPlan, Sha256Progress
from ft_archiver.service.distributed.ports import ObjectReader
from ft_archiver.service.ports import Digests, StoredObject

READ_CHUNK = 8 * 1024 * 1024


def read_back_sha256(
    plan: DistributedPlan,
    completed: CompletedUpload,
    progress: Sha256Progress | None,
    reader: ObjectReader,
    digests: Digests,
    remaining_s: Callable[[], float],
    margin_s: float,
) -> Sha256Progress:
    offset = progress.offset if progress else 0
    state = base64.b64decode(progress.digest_state) if progress else None
    sha = digests.new_sha256(state or None)
    stored = StoredObject(plan.start.bucket, plan.key, completed.etag, completed.version_id)
    buffer = bytearray(min(READ_CHUNK, max(plan.size, 1)))
    while offset < plan.size:
        if remaining_s() < margin_s and digests.resumable():
            saved = base64.b64encode(sha.state()).decode("ascii")
            return Sha256Progress(more=True, offset=offset, digest_state=saved, sha256=None)
        view = memoryview(buffer)[: min(len(buffer), plan.size - offset)]
        reader.read_into(stored, offset, view)
        sha.update(view)
        offset += len(view)
    return Sha256Progress(more=False, offset=offset, digest_state="", sha256=sha.hexdigest())
