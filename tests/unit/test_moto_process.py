"""The local moto process serves DynamoDB requests one at a time, everything else as it
comes (moto's DynamoDB is not atomic per item; DynamoDB is)."""

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ft_archiver_tools.local.moto_process import AtomicDynamoDB


class SlowApp:
    """A WSGI app whose answer takes 50 ms, counting how many it serves at once."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self._lock = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        start_response("200 OK", [])
        yield b"{"
        time.sleep(0.05)  # the answer is still being produced: the lock must cover it
        with self._lock:
            self.now -= 1
        yield b"}"


def serve_at_once(target: str, requests: int = 6) -> int:
    app = SlowApp()
    middleware = AtomicDynamoDB(app)
    environ = {"HTTP_X_AMZ_TARGET": target} if target else {}

    def call() -> bytes:
        return b"".join(middleware(dict(environ), lambda status, headers: None))

    with ThreadPoolExecutor(requests) as pool:
        answers = list(pool.map(lambda _: call(), range(requests)))
    assert answers == [b"{}"] * requests
    return app.most


def test_dynamodb_requests_are_served_one_at_a_time() -> None:
    assert serve_at_once("DynamoDB_20120810.UpdateItem") == 1


def test_other_requests_are_served_concurrently() -> None:
    assert serve_at_once("AmazonSQS.ReceiveMessage") > 1
    assert serve_at_once("") > 1  # S3: no target header
