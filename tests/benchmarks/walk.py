"""How far a reader walks to follow one request through the code: ``Archiver.archive``
and ``Unpacker.unpack``, each run once against the unit tests' in-memory fakes with the
interpreter's profiler on, in the thread that runs the request (the parts' upload threads
only carry bytes).

Counted over the calls into ft_archiver's own service and domain code (adapters, fakes,
the standard library and the packages left out):

- places: the distinct functions the request enters;
- modules: the distinct modules those are in;
- hops: the distinct calls from one module into another (caller's module, callee's);
- climbs: those of them into a module that is still on the call stack above the caller
  (a callback up into the code that called down);
- returns: the others, in the order first made, that enter a module the walk had entered
  before and left.

Each is counted once however often a loop repeats it (a part, a member, a chunk): what a
reader must follow, not what the machine does.

``python -m tests.benchmarks.walk`` prints both paths; with PYTHONPATH pointing at another
revision's ``functions/`` it measures that one, so a change can be compared with its base.
"""

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from ft_archiver.adapters import sha256_state
from ft_archiver.domain.requests import ArchiveRequest, Destination
from ft_archiver.service.archive import Archiver
from ft_archiver.service.unpack.unpacker import UnpackRequest, without_deadline
from tests.support.fakes import FakeArchiveLedger, FakePublisher, FakeStore, FakeTogether
from tests.support.tarballs import tar_of, zstd_of
from tests.unit.test_archive_manifest import JOB, JOB_ID, OPTIONS
from tests.unit.test_unpacker import ENTRIES, KEY, PART, Bucket, unpacker

OWN = ("ft_archiver.service", "ft_archiver.domain")


@dataclass
class Walk:
    calls: list[tuple[str, str]] = field(default_factory=list)  # (caller's, callee's module)
    climbs: set[tuple[str, str]] = field(default_factory=set)
    places: set[tuple[str, str]] = field(default_factory=set)

    def profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        module = _module_of(frame)
        if not module.startswith(OWN):
            return
        self.places.add((module, frame.f_code.co_qualname))
        above = [_module_of(f) for f in _frames_above(frame) if _module_of(f).startswith(OWN)]
        caller = above[0] if above else ""
        self.calls.append((caller, module))
        if module != caller and module in above[1:]:
            self.climbs.add((caller, module))

    def figures(self) -> dict[str, int]:
        hops = list(dict.fromkeys((a, b) for a, b in self.calls if a and a != b))
        entered: set[str] = {self.calls[0][1]} if self.calls else set()
        returns = 0
        for hop in hops:
            returns += hop[1] in entered and hop not in self.climbs
            entered.add(hop[1])
        modules = {module for module, _ in self.places}
        return {"places": len(self.places), "modules": len(modules), "hops": len(hops),
                "climbs": len(self.climbs), "returns": returns}  # fmt: skip


def _frames_above(frame: FrameType) -> Iterator[FrameType]:
    caller = frame.f_back
    while caller is not None:
        yield caller
        caller = caller.f_back


def _module_of(frame: FrameType) -> str:
    return str(frame.f_globals.get("__name__", ""))


def walked(run: Any) -> dict[str, int]:
    walk = Walk()
    sys.setprofile(walk.profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return walk.figures()


def archive_once() -> None:
    store = FakeStore()
    data = bytes(range(256)) * (3 * OPTIONS.part_size // 256 + 7)
    archiver = Archiver(FakeTogether(data, JOB, []), store, FakePublisher(), OPTIONS,
                        sha256_state, store, ledger=FakeArchiveLedger())  # fmt: skip
    archiver.archive(ArchiveRequest(JOB_ID), Destination("b", "models/"))


def unpack_once() -> None:
    bucket = Bucket()
    bucket.add_archive(KEY, zstd_of(tar_of(ENTRIES)))
    without_deadline(unpacker(bucket).unpack(UnpackRequest("bucket", KEY, "models/")))


def main() -> int:
    print(f"{'path':24} {'places':>6} {'modules':>7} {'hops':>5} {'climbs':>6} {'returns':>7}")
    for name, run in (("Archiver.archive", archive_once), ("Unpacker.unpack", unpack_once)):
        figures = walked(run)
        print(f"{name:24} {figures['places']:6} {figures['modules']:7} {figures['hops']:5} "
              f"{figures['climbs']:6} {figures['returns']:7}")  # fmt: skip
    print(f"(the unpack's archive: {len(ENTRIES)} members, parts of {PART // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
