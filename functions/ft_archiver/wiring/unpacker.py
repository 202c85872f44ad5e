"""The Unpacker: the archive bucket (read and written through one S3 client) and the
SHA-256 the transfer engine hashes parts with."""

from ft_archiver.adapters import sha256_state
from ft_archiver.adapters.s3 import S3Store
from ft_archiver.adapters.s3_unpack import S3UnpackObjects
from ft_archiver.domain.checksums import ALGORITHMS
from ft_archiver.domain.unpack.budget import READ_AHEAD
from ft_archiver.domain.unpack.members import UnpackLimits
from ft_archiver.errors import ConfigurationError
from ft_archiver.service.unpack.unpacker import Unpacker, UnpackOptions
from ft_archiver.settings import UnpackingSettings
from ft_archiver.wiring.aws import aws_client


def unpack_options(
    settings: UnpackingSettings, limits: UnpackLimits | None = None
) -> UnpackOptions:
    return UnpackOptions(
        part_size=settings.part_size,
        part_size_floor=settings.part_size_floor,
        upload_concurrency=settings.upload_concurrency,
        memory_budget=settings.memory_budget,
        algorithm=ALGORITHMS[settings.checksum_algorithm],
        read_attempts=settings.max_attempts,
        deadline_margin_s=settings.deadline_margin_s,
        checkpoint_every_s=settings.unpack_checkpoint_s,
        max_continuations=settings.max_continuations,
        limits=limits or UnpackLimits(),
    )


def build_unpacker(settings: UnpackingSettings, limits: UnpackLimits | None = None) -> Unpacker:
    """``limits``: the member planner's (UnpackLimits' defaults unless given)."""
    if settings.checksum_mode != "full-object":
        raise ConfigurationError(
            f"unpack verifies every file by S3's full-object checksum, which "
            f"FT_ARCHIVER_CHECKSUM_MODE={settings.checksum_mode} says this store does not "
            "keep: unpacking into such a store is not supported yet"
        )
    # One pool for the UploadParts, the ranged GETs ahead of the decompressor and the
    # calls beside them.
    client = aws_client("s3", settings, settings.upload_concurrency + READ_AHEAD + 4)
    objects = S3UnpackObjects(client)
    return Unpacker(
        archives=objects,
        store=S3Store(client),
        unpacked=objects,
        digests=sha256_state,
        options=unpack_options(settings, limits),
    )
