"""A Together API simulator on 127.0.0.1: fine-tune jobs, checkpoints, and the download
endpoint, answered directly or with a 302 to blob storage, with Range, ETag and fault
injection. Every JSON shape it serves is one Together documents: ``together_shapes``
names the source of each, and ``Shapes`` chooses among the documented variants.

The blob URL uses another host name for the same socket (``localhost`` against the API's
``127.0.0.1``), as storage sits on another host in production: the request log shows
whether a client carried the API key across. A job's ``redirect_to`` makes the download
endpoint send the client somewhere else instead (the metadata service, a private
address, a file: URL ...), so that a client's refusal is tested over real HTTP.

An archive is opaque pseudo-random bytes (``archive_bytes``) unless it is a model's
(``add_job(model=ModelSpec(...))``): then it is a real ``.tar.zst``/``.tar.gz`` of a Hugging
Face-shaped model (``model_archive``), served with Range all the same.
"""

import contextlib
import hashlib
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from ft_archiver.domain.job import JobStatus
from ft_archiver_tools.local import archive_bytes
from ft_archiver_tools.local.model_archive import ModelArchive, ModelSpec
from ft_archiver_tools.local.together_shapes import (
    SIM_WANDB_KEY,
    Downloads,
    Shapes,
    checkpoint,
    error,
    final_checkpoint_types,
    job_document,
    list_entry,
    training_type,
)

ZSTD = "application/zstd"
TAR = "application/x-tar"
RANGE = re.compile(r"bytes=(\d*)-(\d*)")
EARLIEST = datetime.min.replace(tzinfo=UTC)
ListOrder = Literal["oldest", "added"]
Download = Literal["redirect", "direct"]
__all__ = [
    "SIM_WANDB_KEY",
    "Download",
    "Faults",
    "ModelSpec",
    "Shapes",
    "SimArchive",
    "SimJob",
    "TogetherSimulator",
]


@dataclass(frozen=True)
class SimArchive:
    """An archive's bytes: opaque (``archive_bytes`` of ``seed``), or with ``model`` the
    real archive of that model, whose compressed size ``size`` is (``archive_of``)."""

    size: int
    seed: int
    content_type: str = ZSTD
    model: ModelSpec | None = None

    @property
    def etag(self) -> str:
        if self.model is not None:
            return f'"{_token(self)}-{self.size:x}"'
        return f'"{self.seed:016x}-{self.size:x}"'


@dataclass
class SimJob:
    id: str
    training_type: str  # "Full", "Lora", or anything to test refusal
    model_output_name: str | None
    status: str = "completed"  # what it reports, unless completes_at is set
    final: dict[str, SimArchive] = field(default_factory=dict)  # checkpoint kind -> archive
    steps: dict[int, SimArchive] = field(default_factory=dict)  # intermediate checkpoints
    created_at: str = "2026-11-25T12:00:00Z"
    completes_at: float | None = None  # time.monotonic() at which it reports completed
    extra: dict[str, Any] = field(default_factory=dict)  # more fields of the API's answer
    # The download endpoint answers 302 to this Location instead of the blob's, as a
    # compromised or misconfigured storage redirect would: a test's choice of target.
    redirect_to: str | None = None
    # "redirect": a 302 to the blob host; "direct": the API host answers 200/206 itself.
    download: Download = "redirect"
    legacy_training_type: bool = False  # a Full job that reports {"type": ""}

    def current_status(self) -> str:
        """A job that completes over time runs until its moment, then is completed."""
        if self.completes_at is not None:
            return "completed" if time.monotonic() >= self.completes_at else "running"
        return self.status

    def complete(self) -> None:
        self.completes_at = None
        self.status = "completed"

    def as_api(self) -> dict[str, Any]:
        """``GET /fine-tunes/{id}``."""
        trained = training_type(self.training_type, self.legacy_training_type)
        return job_document(
            self.id, self.current_status(), self.created_at, self.model_output_name,
            trained, self.extra,
        )  # fmt: skip


@dataclass
class Faults:
    """Switches for the blob endpoint (``targets`` widens them to the API)."""

    fail_first: int = 0  # answer the first K matching requests with fail_status
    fail_status: int = 503
    retry_after: int | None = None
    drop_after_bytes: int | None = None  # close the socket after N body bytes...
    drop_times: int = 1  # ...on this many responses (-1: every one)
    rate_limit_bps: int | None = None  # per connection
    ignore_range: bool = False  # answer 200 with the whole archive, as some servers do
    stall_after_bytes: int | None = None  # go silent mid-body for stall_s seconds...
    stall_s: float = 0.0
    stall_times: int = 1  # ...on this many responses
    targets: frozenset[str] = frozenset({"blob"})  # "blob", "api", "download"


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    target: str
    host: str
    range: str | None
    authorization: bool
    status: int
    client_port: int  # tells connections apart: reuse shows as one port, many requests
    archive: str | None = None  # the token of the archive whose bytes were asked for


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that closed its connection (a keep-alive one a test or a cancelled
        transfer dropped) is not an error of the server's: no traceback on stderr."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class TogetherSimulator:
    def __init__(
        self,
        api_key: str = "sim-together-key",
        blob_host: str = "localhost",
        *,
        list_order: ListOrder = "oldest",
        shapes: Shapes | None = None,
    ) -> None:
        """``shapes``: Together's documented shapes by default (see ``Shapes``)."""
        self.api_key = api_key
        self.blob_host = blob_host
        self.shapes = shapes or Shapes()
        # "oldest": GET /fine-tunes sorted by creation instant, as Together answers;
        # "added": in the order add_job was called, so a test can send any order.
        self.list_order: ListOrder = list_order
        self.jobs: dict[str, SimJob] = {}
        self.faults = Faults()
        self.log: list[LoggedRequest] = []
        self._blobs: dict[str, SimArchive] = {}
        self._digests: dict[SimArchive, str] = {}
        self._models: dict[ModelSpec, ModelArchive] = {}  # each with its frame index
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._fault_count = 0
        self._drop_count = 0
        self._stall_count = 0

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> "TogetherSimulator":
        handler = type("Handler", (_Handler,), {"sim": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "TogetherSimulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "simulator not started"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- data --------------------------------------------------------------------------

    def add_job(
        self,
        training_type: str = "Lora",
        *,
        size: int = 1024 * 1024,
        model_output_name: str | None = "acme/Llama-3-8B-ft",
        content_type: str = ZSTD,
        steps: dict[int, int] | None = None,
        job_id: str | None = None,
        status: JobStatus | str = JobStatus.COMPLETED,
        created_at: str | None = None,
        completes_after_s: float | None = None,
        download: Download | None = None,
        legacy_training_type: bool | None = None,
        model: ModelSpec | None = None,
    ) -> SimJob:
        """A job with final archives (merged and adapter for Lora) and optional checkpoints.
        ``status``: one of the ten Together reports (a typo such as "canceled" is refused;
        set ``SimJob.status`` to try a status the API does not have). ``completes_after_s``:
        it reports ``running`` until then, ``completed`` after, so ``status`` is left as is.
        Jobs are created one second apart unless ``created_at`` says otherwise.
        ``download`` and ``legacy_training_type`` default to what ``shapes`` says for the
        job's place in the order of ``add_job`` calls (every second one differs).
        ``model``: the archives are real ones (``size`` and ``content_type`` are then the
        model's): ``model`` itself for the merged (or Full) model, a LoRA adapter of a
        sixteenth of its size for Lora's adapter, and ``steps`` maps each step to the size
        of its model; each but the first with a seed of its own."""
        if status not in set(JobStatus):
            raise ValueError(
                f"status {status!r} is not one Together reports: {', '.join(JobStatus)}"
            )
        if completes_after_s is not None and status != JobStatus.COMPLETED:
            raise ValueError(
                f"a job that completes after {completes_after_s} s reports running until "
                f"then, not {status!r}: pass status or completes_after_s, not both"
            )
        job_id = job_id or f"ft-{uuid.uuid4()}"
        job = SimJob(job_id, training_type, model_output_name, JobStatus(status).value)
        index = len(self.jobs)
        job.created_at = created_at or _creation_time(index)
        shapes = self.shapes
        job.download = download or _download_of(shapes.downloads, index)
        if legacy_training_type is None:
            legacy_training_type = shapes.legacy_full_types and index % 2 == 1
        job.legacy_training_type = training_type == "Full" and legacy_training_type
        if completes_after_s is not None:
            job.completes_at = time.monotonic() + completes_after_s
        kinds = ["model_output_path"] if training_type == "Full" else ["merged", "adapter"]
        for n, kind in enumerate(kinds):
            if model is not None:
                adapter = replace(model, variant="adapter", size=max(256 * 1024, model.size // 16))
                spec = model if n == 0 else replace(adapter, seed=_seed(job_id, kind))
                job.final[kind] = self.archive_of(spec)
                continue
            archive_size = size if n == 0 else max(0, size // 4)
            job.final[kind] = SimArchive(archive_size, _seed(job_id, kind), content_type)
        for step, step_size in (steps or {}).items():
            step_seed = _seed(job_id, f"step-{step}")
            if model is not None:
                job.steps[step] = self.archive_of(replace(model, size=step_size, seed=step_seed))
                continue
            job.steps[step] = SimArchive(step_size, step_seed, content_type)
        self.jobs[job_id] = job
        return job

    def job_list(self) -> list[dict[str, Any]]:
        """``GET /fine-tunes``: every job as a list entry, in ``list_order``."""
        with self._lock:
            jobs = list(self.jobs.values())
        if self.list_order == "oldest":
            jobs.sort(key=lambda job: _instant(job.created_at))
        return [list_entry(job.as_api(), self.shapes) for job in jobs]

    def archive_for(self, job_id: str, checkpoint: str, step: int | None = None) -> SimArchive:
        job = self.jobs[job_id]
        return job.steps[step] if step is not None else job.final[checkpoint]

    def archive_of(self, spec: ModelSpec) -> SimArchive:
        """The archive of a model, its size known (its frame index built, once)."""
        model = self.model_archive(spec)
        return SimArchive(model.size, spec.seed, model.content_type, spec)

    def model_archive(self, archive: SimArchive | ModelSpec) -> ModelArchive:
        """The model behind an archive: its members, their SHA-256s, its bytes."""
        spec = archive.model if isinstance(archive, SimArchive) else archive
        if spec is None:
            raise ValueError("an opaque archive has no model")
        with self._lock:
            known = self._models.get(spec)
        if known is None:
            built = ModelArchive(spec)
            _ = built.size  # its one pass over the archive, outside the lock
            with self._lock:
                known = self._models.setdefault(spec, built)
        return known

    def iter_bytes(
        self, archive: SimArchive, start: int, length: int, piece: int
    ) -> Iterator[bytes | memoryview]:
        if archive.model is None:
            return archive_bytes.iter_range(archive.seed, start, length, piece)
        return self.model_archive(archive).iter_range(start, length, piece)

    def sha256(self, archive: SimArchive) -> str:
        with self._lock:
            known = self._digests.get(archive)
        if known is None and archive.model is not None:
            known = self.model_archive(archive).sha256
        if known is None:
            known = archive_bytes.sha256(archive.seed, archive.size)
            with self._lock:
                self._digests[archive] = known
        return known

    def requests_to(self, target: str) -> list[LoggedRequest]:
        with self._lock:
            return [entry for entry in self.log if entry.target == target]

    # -- used by the handler -----------------------------------------------------------

    def blob_requests(self, archive: SimArchive) -> list[LoggedRequest]:
        """Every request for this archive's bytes, probe included, whether storage or the
        API host (a direct download) answered it."""
        token = _token(archive)
        with self._lock:
            return [entry for entry in self.log if entry.archive == token]

    def blob_url(self, archive: SimArchive) -> str:
        token = _token(archive)
        with self._lock:
            self._blobs[token] = archive
        signature = hashlib.sha256(f"{token}{self.api_key}".encode()).hexdigest()
        return f"http://{self.blob_host}:{self.port}/blobs/{token}?X-Amz-Signature={signature}"

    def blob(self, token: str) -> SimArchive | None:
        with self._lock:
            return self._blobs.get(token)

    def take_fault(self, target: str) -> bool:
        with self._lock:
            if target in self.faults.targets and self._fault_count < self.faults.fail_first:
                self._fault_count += 1
                return True
            return False

    def take_stall(self) -> bool:
        with self._lock:
            if self._stall_count >= self.faults.stall_times:
                return False
            self._stall_count += 1
            return True

    def take_drop(self) -> bool:
        """Whether a response that reached ``drop_after_bytes`` is to be cut there."""
        with self._lock:
            faults = self.faults
            if faults.drop_times >= 0 and self._drop_count >= faults.drop_times:
                return False
            self._drop_count += 1
            return True

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.log.append(entry)

    def set_faults(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._fault_count = 0
            self._drop_count = 0
            self._stall_count = 0


def _download_of(choice: Downloads, index: int) -> Download:
    """How the ``index``-th job's download answers: "mixed" alternates, from a redirect."""
    if choice == "direct":
        return "direct"
    if choice == "redirect":
        return "redirect"
    return "direct" if index % 2 else "redirect"


def _creation_time(index: int) -> str:
    moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=index)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _instant(created_at: str) -> datetime:
    """Compared as instants: as text, "...T20:00:00-05:00" sorts before "...T00:00:00Z"
    of the next day. Unreadable times (tests of the client) sort first."""
    try:
        moment = datetime.fromisoformat(created_at)
    except ValueError:
        return EARLIEST
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _token(archive: SimArchive) -> str:
    model = f":{archive.model!r}" if archive.model is not None else ""
    return hashlib.sha256(f"{archive.seed}:{archive.size}{model}".encode()).hexdigest()[:24]


def _seed(job_id: str, kind: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{job_id}/{kind}".encode()).digest()[:8], "big")


class _Handler(BaseHTTPRequestHandler):
    sim: TogetherSimulator
    _target: str = "api"
    _archive: str | None = None
    protocol_version = "HTTP/1.1"
    server_version = "TogetherSimulator/1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    # -- routing -----------------------------------------------------------------------

    def _dispatch(self, head: bool) -> None:
        url = urlsplit(self.path)
        self._archive = None
        if url.path.startswith("/blobs/"):
            self._target = "blob"
        elif url.path == "/v1/finetune/download":
            self._target = "download"
        else:
            self._target = "api"
        self._route(url.path, parse_qs(url.query), self._target, head)

    def send_response(self, code: int, message: str | None = None) -> None:
        # Logged before the client can see the answer, so tests never race the log.
        self.sim.record(
            LoggedRequest(
                self.command, urlsplit(self.path).path, self._target,
                self.headers.get("Host", ""), self.headers.get("Range"),
                "Authorization" in self.headers, code, self.client_address[1],
                self._archive,
            )
        )  # fmt: skip
        super().send_response(code, message)

    def _route(self, path: str, query: dict[str, list[str]], target: str, head: bool) -> int:
        faults = self.sim.faults
        if self.sim.take_fault(target):
            extra = (
                {"Retry-After": str(faults.retry_after)} if faults.retry_after is not None else {}
            )
            return self._error(faults.fail_status, "simulated failure", extra)
        if target == "blob":
            archive = self.sim.blob(path.removeprefix("/blobs/"))
            if archive is None:
                return self._error(404, "no such blob")
            return self._bytes(archive, head)
        if self.headers.get("Authorization") != f"Bearer {self.sim.api_key}":
            return self._error(401, "Invalid API key provided")
        if target == "download":
            return self._download(query, head)
        if path == "/v1/fine-tunes":
            return self._json(200, {"data": self.sim.job_list()})
        match = re.fullmatch(r"/v1/fine-tunes/([^/]+)(/checkpoints)?", path)
        job = self.sim.jobs.get(match.group(1)) if match else None
        if job is None:
            return self._error(404, "fine-tune job not found")
        if match and match.group(2):
            entries = _checkpoints(job, job.current_status(), self.sim.shapes)
            return self._json(200, {"data": entries})
        return self._json(200, job.as_api())

    def _download(self, query: dict[str, list[str]], head: bool) -> int:
        """``/finetune/download``: 404 for an unknown fine-tune, 400 for parameters that
        name nothing (no checkpoint and no step, a step or kind the job does not have)."""
        ft_id = query.get("ft_id", [""])[0]
        checkpoint = query.get("checkpoint", [""])[0]
        step_text = query.get("checkpoint_step", [None])[0]
        job = self.sim.jobs.get(ft_id)
        if job is None:
            return self._error(404, f"Fine-tune job {ft_id} not found")
        if step_text is None and job.current_status() != "completed":
            return self._error(400, f"Fine-tune job {ft_id} is not completed")
        if step_text is None and not checkpoint:
            return self._error(400, "checkpoint is required when checkpoint_step is not set")
        if job.redirect_to is not None:
            return self._send(302, b"", {"Location": job.redirect_to})
        if step_text is not None:
            archive = job.steps.get(int(step_text)) if step_text.isdigit() else None
        else:
            archive = job.final.get(checkpoint)
        if archive is None:
            what = f"checkpoint step {step_text}" if step_text is not None else checkpoint
            return self._error(400, f"Fine-tune job {ft_id} has no {what} checkpoint")
        if job.download == "direct":
            if self.sim.take_fault("blob"):  # the bytes' faults, wherever the bytes are
                return self._error(self.sim.faults.fail_status, "simulated failure")
            return self._bytes(archive, head)
        return self._send(302, b"", {"Location": self.sim.blob_url(archive)})

    def _bytes(self, archive: SimArchive, head: bool) -> int:
        """The archive's bytes (``application/octet-stream`` as the spec says, or the
        type of the archive), with Range, ETag and If-Match, from storage or the API."""
        self._archive = _token(archive)
        if_match = self.headers.get("If-Match")
        if if_match and if_match != archive.etag:
            return self._send(412, b"", {})
        headers = {"Content-Type": archive.content_type, "ETag": archive.etag,
                   "Accept-Ranges": "bytes"}  # fmt: skip
        start, length, status = 0, archive.size, 200
        requested = self.headers.get("Range")
        if requested and not self.sim.faults.ignore_range:
            parsed = _parse_range(requested, archive.size)
            if parsed is None:
                headers["Content-Range"] = f"bytes */{archive.size}"
                return self._send(416, b"", headers)
            start, length = parsed
            status = 206
            headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{archive.size}"
        headers["Content-Length"] = str(length)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self._stream(archive, start, length)
        return status

    # -- writing -----------------------------------------------------------------------

    def _stream(self, archive: SimArchive, start: int, length: int) -> None:
        rate = self.sim.faults.rate_limit_bps
        drop_after = self.sim.faults.drop_after_bytes
        stall_after = self.sim.faults.stall_after_bytes
        # pieces of about an eighth of a second at low rates, 256 KiB (10 ms at 25 MB/s) above
        piece_size = min(256 * 1024, max(16 * 1024, rate // 8)) if rate else 256 * 1024
        began = time.monotonic()
        sent = 0
        try:
            for piece in self.sim.iter_bytes(archive, start, length, piece_size):
                if (
                    drop_after is not None
                    and sent + len(piece) > drop_after
                    and self.sim.take_drop()
                ):
                    self.wfile.write(piece[: max(0, drop_after - sent)])
                    self.wfile.flush()
                    with contextlib.suppress(OSError):  # the client may have gone already
                        self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if stall_after is not None and sent + len(piece) > stall_after:
                    if self.sim.take_stall():
                        cut = stall_after - sent
                        self.wfile.write(piece[:cut])
                        self.wfile.flush()
                        time.sleep(self.sim.faults.stall_s)  # the client gives up here
                        sent, piece = sent + cut, piece[cut:]
                    stall_after = None
                self.wfile.write(piece)
                sent += len(piece)
                if rate:
                    ahead = sent / rate - (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _error(self, status: int, message: str, extra: dict[str, str] | None = None) -> int:
        return self._json(status, error(status, message), extra)

    def _json(self, status: int, body: dict[str, Any], extra: dict[str, str] | None = None) -> int:
        return self._send(
            status, json.dumps(body).encode(), {"Content-Type": "application/json", **(extra or {})}
        )

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> int:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return status


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One byte range as (start, length), or None when it cannot be satisfied."""
    match = RANGE.fullmatch(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None
    if not match.group(1):  # suffix: the last N bytes
        length = min(int(match.group(2)), size)
        return (size - length, length) if length else None
    start = int(match.group(1))
    end = int(match.group(2)) if match.group(2) else size - 1
    if start >= size or end < start:
        return None
    end = min(end, size - 1)
    return start, end - start + 1


def _checkpoints(job: SimJob, status: str, shapes: Shapes) -> list[dict[str, Any]]:
    """``GET /fine-tunes/{id}/checkpoints``: the intermediate ones, then once the job has
    completed its finals at one step after them (a LoRA job's merged and adapter)."""
    entries = [
        checkpoint(step, "Intermediate", "2026-11-25T11:00:00Z",
                   f"s3://together-sim/{job.id}/step-{step}")
        for step in sorted(job.steps)
    ]  # fmt: skip
    if status != "completed":
        return entries  # no final model yet
    final_step = max(job.steps, default=0) + 1
    for kind in final_checkpoint_types(job.training_type == "Lora", shapes):
        suffix = kind.removeprefix("Final").strip().lower()
        path = f"s3://together-sim/{job.id}" + (f"/{suffix}" if suffix else "")
        entries.append(checkpoint(final_step, kind, "2026-11-25T12:00:00Z", path))
    return entries
