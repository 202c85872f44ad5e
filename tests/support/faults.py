"""S3 faults, injected one of two ways, each where the other cannot reach.

- ``s3_fault_proxy``: an HTTP proxy in front of the emulator, for the AWS clients a test
  does not hold (the archiver's own, built by its wiring, or a deployed function's): it
  answers chosen requests with S3's errors (503 SlowDown, 500, 404 NoSuchUpload, 403),
  so that botocore's retries and the archiver's handling run as they would against S3.
- ``tamper``: a change to the parameters of one operation of a client the test holds,
  made before the request is built, for what S3 must refuse or get right: bytes that
  do not match their checksum, a wrong full-object checksum, parts swapped, parts
  finishing late, a stale retry.

The in-memory fakes have switches of their own (``fakes.FakeStore``).
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ft_archiver_tools.local.s3_fault_proxy import S3FaultProxy

from .aws import SetEnv


@contextmanager
def s3_fault_proxy(endpoint_url: str, setenv: SetEnv) -> Iterator[S3FaultProxy]:
    """A fault-injecting proxy in front of ``endpoint_url``, with no fault set yet;
    AWS_ENDPOINT_URL points at it (through ``setenv``: monkeypatch's, or os.environ's
    setter), so the clients built from here on go through it."""
    with S3FaultProxy(endpoint_url) as proxy:
        setenv("AWS_ENDPOINT_URL", proxy.endpoint_url)
        yield proxy


def tamper(client: Any, operation: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Every ``operation`` call of ``client`` (``UploadPart``, ``PutObject``,
    ``CompleteMultipartUpload``...) hands its parameters to ``change`` first, which may
    alter them in place or take its time; what then goes out is what S3 judges."""

    def before_build(params: dict[str, Any], **_: Any) -> None:
        change(params)

    client.meta.events.register(f"before-parameter-build.s3.{operation}", before_build)


def body_of(params: dict[str, Any]) -> bytes:
    """The bytes a request's ``Body`` is to send (a stream is read, then rewound)."""
    body = params["Body"]
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    data = bytes(body.read())
    body.seek(0)
    return data
