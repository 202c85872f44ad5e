"""The unbroken run of finished parts from part 1: what a later invocation resumes from."""

import threading
from collections.abc import Callable

from ft_archiver.domain.checksums import CrcAlgorithm
from ft_archiver.service.ports import UploadedPart
from ft_archiver.service.resume import ResumePoint


class CompletedPrefix:
    """Parts 1..k that are both uploaded and hashed, with the full-object CRC over them.

    Parts finish in any order; whenever the run from part 1 grows, ``on_point`` hears
    the new resume point (the digest's state after part k, the CRC of parts 1..k), from
    whichever thread made it grow, and never after a longer one.
    """

    def __init__(
        self,
        upload_id: str,
        algorithm: CrcAlgorithm,
        resume: ResumePoint | None,
        on_point: Callable[[ResumePoint], None],
        *,
        keep_part_crcs: bool = False,
    ) -> None:
        """``keep_part_crcs``: each point carries the CRCs of parts 1..k (composite)."""
        self._upload_id = upload_id
        self._algorithm = algorithm
        self._keep_part_crcs = keep_part_crcs
        self._part_crcs = bytearray(resume.part_crcs if resume else b"")
        self._on_point = on_point
        self.parts_done = resume.parts_done if resume else 0
        self.crc = resume.prefix_crc if resume else 0
        self._reported = self.parts_done
        self._uploaded: dict[int, UploadedPart] = {}
        self._states: dict[int, bytes] = {}
        self._lock = threading.Lock()
        self._report_lock = threading.Lock()

    def uploaded(self, part: UploadedPart) -> None:
        with self._lock:
            self._uploaded[part.number] = part
        self._advance()

    def hashed(self, number: int, digest_state: bytes) -> None:
        with self._lock:
            self._states[number] = digest_state
        self._advance()

    def _advance(self) -> None:
        with self._lock:
            through = self.parts_done
            while through + 1 in self._uploaded and through + 1 in self._states:
                through += 1
                part = self._uploaded.pop(through)
                self.crc = self._algorithm.extend(self.crc, part.crc, part.length)
                if self._keep_part_crcs:
                    self._part_crcs += part.crc.to_bytes(self._algorithm.width_bytes, "big")
            if through == self.parts_done:
                return
            self.parts_done = through
            point = ResumePoint(
                self._upload_id, through, self._states[through], self.crc, bytes(self._part_crcs)
            )
            for number in [n for n in self._states if n <= through]:
                del self._states[number]
        with self._report_lock:  # an older point never overwrites a newer one
            if point.parts_done > self._reported:
                self._on_point(point)
                self._reported = point.parts_done
