"""S3 faults for the AWS clients a test does not hold (the archiver's own, built by its
wiring, or a deployed function's): an HTTP proxy in front of the emulator answers chosen
requests with S3's errors (503 SlowDown, 500, 404 NoSuchUpload, 403), so that botocore's
retries and the archiver's handling run as they would against S3.

The in-memory fakes have switches of their own (``fakes.FakeStore``).
"""

from collections.abc import Iterator
from contextlib import contextmanager

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
