"""Part planning for S3 multipart uploads."""

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ft_archiver.errors import (
    ArchiveOverLimitError,
    ArchiveTooLargeError,
    ConfigurationError,
    RuleError,
)

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
TIB = 1024 * GIB
S3_MAX_PART_SIZE = 5 * GIB
S3_MAX_PARTS = 10_000
# S3's largest object: 10,000 parts of 5 GiB, 50,000 GiB (48.8 TiB, 53.7 TB; AWS rounds it to
# "50 TB"). https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
S3_MAX_OBJECT_SIZE = S3_MAX_PARTS * S3_MAX_PART_SIZE
# The largest archive a deployment takes by default (FT_ARCHIVER_MAX_ARCHIVE_GIB, the
# stack's MaxArchiveGiB; 0 lifts it): generous for a model (a 405B model in bf16 is about
# 750 GiB), and a bound on what one signed webhook, which names any job, can cost.
DEFAULT_MAX_ARCHIVE_GIB = 1024
# Our floor sits above S3's 5 MiB so that a 10,000-part archive is at least 78 GiB before
# parts grow; emulator tests lower it (Settings.part_size_floor).
PART_SIZE_FLOOR = 8 * MIB
DEFAULT_PART_SIZE = 8 * MIB
# Measured (docs/performance.md): with each source connection capped at 25 MB/s, as an
# internet download is, 20 ranged GETs moved 1 GiB faster than 12, 16 or 24 (20 x 25 MB/s
# is more than LocalStack's S3 takes on the benchmark machine), and cost nothing
# uncapped; with 8 UploadParts, 8 MiB parts x 28 buffers = 224 MiB.
# The settings' defaults (FT_ARCHIVER_CONCURRENCY, FT_ARCHIVER_UPLOAD_CONCURRENCY).
DEFAULT_CONCURRENCY = 20
DEFAULT_UPLOAD_CONCURRENCY = 8
# The part buffers' budget outside Lambda (the command line): the machine is the user's.
CLI_MEMORY_BUDGET = GIB
# What a Lambda function keeps for everything but the part buffers. Measured: the
# archiver handler's process peaks at about 100 MiB besides its buffers, the same with
# 8 MiB and 200 MiB parts (docs/reliability.md, Limits); the rest is headroom for the runtime, TLS
# and Lambda counting MB where the measurement counted MiB.
RUNTIME_RESERVE = 256 * MIB


@dataclass(frozen=True)
class PartRange:
    number: int  # 1-based, as S3 numbers parts
    start: int
    length: int

    @property
    def end(self) -> int:
        """Inclusive last byte, as an HTTP Range header wants it."""
        return self.start + self.length - 1


@dataclass(frozen=True)
class PartPlan:
    size: int
    part_size: int

    @property
    def count(self) -> int:
        return max(1, -(-self.size // self.part_size))

    @property
    def single_request(self) -> bool:
        """At most one part's worth: one PutObject, no multipart upload."""
        return self.size <= self.part_size

    def ranges(self) -> Iterator[PartRange]:
        for index in range(self.count):
            start = index * self.part_size
            yield PartRange(index + 1, start, min(self.part_size, self.size - start))


def check_part_size(part_size: int, floor: int = PART_SIZE_FLOOR) -> None:
    """A configured part size: at least our floor (S3's own minimum is 5 MiB; ours is
    higher, see PART_SIZE_FLOOR), at most S3's 5 GiB."""
    if not floor <= part_size <= S3_MAX_PART_SIZE:
        raise ConfigurationError(
            f"part size {format_size(part_size)} is outside {format_size(floor)} "
            f"(ft-archiver's smallest part) to {format_size(S3_MAX_PART_SIZE)} (S3's largest)"
        )


def format_size(size: int) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


def plan_parts(
    size: int, part_size: int = DEFAULT_PART_SIZE, min_part_size: int = PART_SIZE_FLOOR
) -> PartPlan:
    """Grow the part size (in whole MiB) until the archive fits in 10,000 parts."""
    if size < 0:
        raise RuleError(f"archive size {size} is negative")
    check_part_size(part_size, min_part_size)
    needed = -(-size // S3_MAX_PARTS)
    if needed > part_size:
        part_size = -(-needed // MIB) * MIB
    if part_size > S3_MAX_PART_SIZE:
        raise ArchiveTooLargeError(
            f"archive of {size} bytes needs parts over 5 GiB to fit in {S3_MAX_PARTS} parts"
        )
    return PartPlan(size, part_size)


@dataclass(frozen=True)
class Lanes:
    """How much runs at once: ranged GETs, UploadParts, and the part buffers between them."""

    downloads: int
    uploads: int
    buffers: int


def plan_lanes(downloads: int, uploads: int, part_size: int, memory_budget: int) -> Lanes:
    """One buffer per lane, so that reading goes on while earlier parts upload; when parts
    grow for a huge archive, the memory budget cuts buffers first, then lanes."""
    buffers = max(1, min(downloads + uploads, memory_budget // part_size))
    return Lanes(min(downloads, buffers), min(uploads, buffers), buffers)


def check_part_fits(part_size: int, memory_budget: int) -> None:
    """A part is read into one buffer: a part larger than the whole budget would take the
    function past its memory in the middle of the transfer. Refused before it starts."""
    if part_size <= memory_budget:
        return
    function_mb = -(-(part_size + RUNTIME_RESERVE) // MIB)
    raise ConfigurationError(
        f"a part of {format_size(part_size)} does not fit the {format_size(memory_budget)} "
        f"of part buffers: an archive this large needs ArchiverMemorySize {function_mb} or "
        f"more (on the command line, FT_ARCHIVER_MEMORY_BUDGET of at least {part_size})"
    )


def check_archive_size(size: int, max_gib: float) -> None:
    """An archive above the deployment's limit (``max_gib``; 0: none) is refused on its
    probed size, before an upload is started or a byte moved."""
    if not max_gib or size <= max_gib * GIB:
        return
    raise ArchiveOverLimitError(
        f"the archive is {size / GIB:,.1f} GiB ({size:,} bytes), above the limit of "
        f"{max_gib:g} GiB (FT_ARCHIVER_MAX_ARCHIVE_GIB, the stack's MaxArchiveGiB; 0 lifts "
        "it); nothing was transferred"
    )


def default_memory_budget(function_memory_mb: int | None) -> int:
    """The part buffers' share of a Lambda function's memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE):
    all but the runtime's reserve, and half of a function too small for that; outside
    Lambda (None), 1 GiB."""
    if function_memory_mb is None:
        return CLI_MEMORY_BUDGET
    memory = function_memory_mb * MIB
    return max(memory - RUNTIME_RESERVE, memory // 2)


def parse_size(text: str) -> int:
    """'16MiB', '8 MB', '1.5TB', '1048576' -> bytes. KB, MB, GB and TB are decimal (1e9 bytes
    a GB); KiB to TiB, and K, M, G, T alone, binary (2**30 a GiB). Read exactly, as a
    decimal number, so that 4.35GB is 4,350,000,000 bytes, not one less."""
    units = {
        "": 1, "b": 1, "k": KIB, "kb": 1000, "kib": KIB, "m": MIB, "mb": 1000**2,
        "mib": MIB, "g": GIB, "gb": 1000**3, "gib": GIB, "t": TIB, "tb": 1000**4, "tib": TIB,
    }  # fmt: skip
    cleaned = text.strip().lower()
    number = cleaned.rstrip("abcdefghijklmnopqrstuvwxyz ")
    unit = cleaned[len(number) :].strip()
    refusal = f"cannot read {text!r} as a size; write e.g. 16MiB or 8388608"
    if not number or unit not in units:
        raise ValueError(refusal)
    try:
        value = Decimal(number)
    except InvalidOperation:
        raise ValueError(refusal) from None
    if value.adjusted() >= 30:  # no size is this large (and 1e999999999 would overflow)
        raise ValueError(f"{text!r} is far larger than any size")
    return int(value * units[unit])
