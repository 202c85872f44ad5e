"""The deployed topology, locally: signed webhook -> WebhookFunction -> ArchiveQueue ->
ArchiverFunction -> S3 + EventBridge, with template.yaml's resources in a moto server."""

import io
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from ft_archiver.adapters.part_digests import DynamoPartDigests
from ft_archiver.adapters.state import DynamoStateStore
from ft_archiver.domain.checkpoints import (
    TrainingType,
    parse_checkpoint_type,
    parse_job_ref,
    resolve_download,
)
from ft_archiver.domain.distributed import BatchItem
from ft_archiver.domain.messages import ArchiveMessage
from ft_archiver.domain.naming import normalize
from ft_archiver.domain.requests import Destination, idempotency_key
from ft_archiver.errors import StorageError
from ft_archiver.observability import logger
from ft_archiver.service.distributed.ports import PartDigest
from ft_archiver.service.resume import FreshStart
from ft_archiver_tools.local.s3_fault_proxy import S3Fault, S3FaultProxy
from ft_archiver_tools.local.serve import LocalDeployment
from ft_archiver_tools.local.simulator import Faults, SimJob, TogetherSimulator
from ft_archiver_tools.local.webhook_sender import signed_headers
from tests.support.aws import set_all
from tests.support.faults import s3_fault_proxy
from tests.support.sandbox import ServedSandbox, local_deployment
from tests.support.settings import archiver_variables

KIB = 1024


@pytest.fixture(scope="module")
def deployment(together: TogetherSimulator) -> Iterator[LocalDeployment]:
    # a request held elsewhere is asked again at once, not 900 s later
    environment = archiver_variables(FT_ARCHIVER_LEASE_WAIT=0)
    with local_deployment(together, "serverless-test", environment) as local:
        yield local


class Topology(ServedSandbox):
    def __init__(self, local: LocalDeployment, together: TogetherSimulator) -> None:
        super().__init__(local, together, wait_s=2.0)
        self.drain(self.stack.queue_url)
        self.drain(self.stack.dead_letter_queue_url)

    def post(self, body: bytes, headers: dict[str, str]) -> requests.Response:
        return requests.post(self.local.webhook_url, data=body, headers=headers, timeout=30)

    def send(self, payload: Any, webhook_id: str | None = None) -> requests.Response:
        body = json.dumps(payload).encode()
        return self.post(body, signed_headers(self.stack.webhook_secret, body, webhook_id))

    def send_raw(self, body: bytes) -> requests.Response:
        return self.post(body, signed_headers(self.stack.webhook_secret, body))

    def run_archiver(self, timeout_s: float | None = None) -> int:
        """One delivery, as Lambda's event source mapping makes it. A failed message comes
        back after the delay its handler set: the delay is recorded in the delivery, and
        the test plays the clock instead of waiting it out."""
        made = self.local.deliver(wait_s=0, timeout_s=timeout_s)
        for delivery in made:
            if delivery.failed and delivery.visibility_s:
                self.local.skip_delay(delivery)
        return len(made)


@pytest.fixture
def topology(
    deployment: LocalDeployment, together: TogetherSimulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Topology]:
    # The functions' environment, as the template gives it, over the suite's isolation.
    set_all(monkeypatch.setenv, deployment.environment)
    together.set_faults(Faults())
    yield Topology(deployment, together)
    together.set_faults(Faults())


@contextmanager
def logged() -> Iterator[list[dict[str, Any]]]:
    """The JSON log lines the handlers write inside the block, parsed."""
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logger.registered_formatter)
    target = logging.getLogger(logger.name)
    target.addHandler(handler)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        target.removeHandler(handler)
        lines.extend(json.loads(line) for line in captured.getvalue().splitlines())


def lora(topology: Topology, size: int = 600 * KIB) -> SimJob:
    return topology.together.add_job(
        "Lora", size=size, model_output_name=f"acme/m-{time.time_ns()}"
    )


# -- the happy path ---------------------------------------------------------------------


def test_signed_webhook_to_archived_object_and_event(topology: Topology) -> None:
    job = lora(topology)
    answer = topology.send({"type": "fine_tuning.job.completed", "data": {"id": job.id}})
    assert answer.status_code == 202
    body = answer.json()
    assert body["accepted"] is True
    assert body["id"] == job.id
    assert body["checkpoint_type"] == "default"
    assert body["message_id"]
    assert topology.run_archiver() == 1
    events = topology.events.read()
    assert [e["detail-type"] for e in events] == ["Fine-tune Archived"]
    detail = events[0]["detail"]
    archive = topology.together.archive_for(job.id, "merged")
    assert detail["sha256"] == topology.together.sha256(archive)
    assert detail["key"].startswith(topology.stack.prefix)
    obj = topology.stored.client.get_object(Bucket=topology.stack.bucket, Key=detail["key"])
    assert obj["ContentLength"] == archive.size
    assert topology.queued() == 0


def test_flat_payload_with_a_compound_id(topology: Topology) -> None:
    job = topology.together.add_job("Full", model_output_name="flat", steps={7: 100 * KIB})
    answer = topology.send({"id": f"{job.id}:7", "status": "completed"})
    assert answer.status_code == 202
    assert answer.json()["checkpoint_step"] == 7
    topology.run_archiver()
    detail = topology.events.read()[0]["detail"]
    assert detail["checkpoint_step"] == 7
    assert detail["key"] == f"{topology.stack.prefix}flat-checkpoint-7.tar.zst"


def test_logs_carry_the_webhook_id_and_never_the_key(topology: Topology) -> None:
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logger.registered_formatter)
    target = logging.getLogger(logger.name)
    target.addHandler(handler)
    try:
        job = lora(topology)
        topology.send({"id": job.id}, webhook_id="msg_log_check")
        topology.run_archiver()
    finally:
        target.removeHandler(handler)
    assert topology.events.read()[0]["detail-type"] == "Fine-tune Archived"
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert {line["message"] for line in lines} >= {"webhook answered", "archived"}
    assert all(line.get("correlation_id") == "msg_log_check" for line in lines)
    assert topology.together.api_key not in captured.getvalue()
    assert topology.stack.webhook_secret not in captured.getvalue()


def test_an_unauthenticated_request_leaves_nothing_of_itself_in_the_log(
    topology: Topology,
) -> None:
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(logger.registered_formatter)
    target = logging.getLogger(logger.name)
    target.addHandler(handler)
    long_id = "msg_" + "x" * 8000
    body = json.dumps({"id": "ft-abc"}).encode()
    headers = signed_headers(topology.stack.webhook_secret, body, long_id)
    headers["webhook-signature"] = "v1,AAAA"
    try:
        answer = topology.post(body, headers)
    finally:
        target.removeHandler(handler)
    assert answer.status_code == 401
    assert "x" * 100 not in captured.getvalue()  # at INFO: not even a line for it
    assert [json.loads(line)["message"] for line in captured.getvalue().splitlines()] == []


# -- refusals: the status code, the message, and nothing enqueued ----------------------


def refused(topology: Topology, answer: requests.Response, status: int, text: str) -> None:
    assert answer.status_code == status, answer.text
    assert text in answer.json()["message"]
    assert topology.queued() == 0


def test_bad_signature(topology: Topology) -> None:
    body = json.dumps({"id": "ft-abc"}).encode()
    headers = signed_headers(topology.stack.webhook_secret, body)
    headers["webhook-signature"] = "v1,AAAA" + headers["webhook-signature"][7:]
    refused(topology, topology.post(body, headers), 401, "no valid v1 signature")


def test_signature_for_another_body(topology: Topology) -> None:
    signed = json.dumps({"id": "ft-abc"}).encode()
    headers = signed_headers(topology.stack.webhook_secret, signed)
    refused(topology, topology.post(b'{"id": "ft-abd"}', headers), 401, "no valid v1 signature")


def test_missing_headers(topology: Topology) -> None:
    answer = topology.post(b'{"id": "ft-abc"}', {"content-type": "application/json"})
    refused(topology, answer, 401, "missing header(s): webhook-id, webhook-timestamp")


def test_old_timestamp(topology: Topology) -> None:
    body = json.dumps({"id": "ft-abc"}).encode()
    stale = int(time.time()) - 600
    refused(
        topology,
        topology.post(body, signed_headers(topology.stack.webhook_secret, body, timestamp=stale)),
        401,
        "at most 300 s either way",
    )


def test_rotated_secrets_are_both_accepted(topology: Topology) -> None:
    job = lora(topology)
    body = json.dumps({"id": job.id}).encode()
    headers = signed_headers(topology.stack.webhook_secret, body)
    other = signed_headers("whsec_" + "b3RoZXItc2VjcmV0LTEyMzQ1Ng==", body, headers["webhook-id"],
                           int(headers["webhook-timestamp"]))  # fmt: skip
    headers["webhook-signature"] = f"{other['webhook-signature']} {headers['webhook-signature']}"
    assert topology.post(body, headers).status_code == 202
    topology.run_archiver()
    assert topology.events.read()[0]["detail-type"] == "Fine-tune Archived"


def test_replayed_webhook_id_is_not_enqueued_again(topology: Topology) -> None:
    job = lora(topology)
    first = topology.send({"id": job.id}, webhook_id="msg_replay")
    assert first.status_code == 202
    topology.drain(topology.stack.queue_url)
    again = topology.send({"id": job.id}, webhook_id="msg_replay")
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["message_id"] == first.json()["message_id"]
    assert topology.queued() == 0


def test_a_webhook_id_reused_for_another_body_is_refused_409(topology: Topology) -> None:
    first_job, other_job = lora(topology), lora(topology)
    webhook_id = f"msg_reuse_{time.time_ns()}"
    first = topology.send({"id": first_job.id}, webhook_id=webhook_id)
    assert first.status_code == 202
    topology.drain(topology.stack.queue_url)
    reused = topology.send({"id": other_job.id}, webhook_id=webhook_id)
    assert reused.status_code == 409, reused.text
    assert reused.json()["error"] == "webhook_id_reused"
    assert other_job.id not in reused.text
    assert topology.queued() == 0
    again = topology.send({"id": first_job.id}, webhook_id=webhook_id)  # the claim stands
    assert (again.status_code, again.json()["message_id"]) == (200, first.json()["message_id"])
    assert topology.queued() == 0


def test_concurrent_deliveries_of_one_webhook_id_queue_one_message(topology: Topology) -> None:
    job = lora(topology)
    body = json.dumps({"id": job.id}).encode()
    webhook_id = f"msg_race_{time.time_ns()}"
    start = threading.Barrier(8)
    answers: list[requests.Response] = []

    def deliver() -> None:
        headers = signed_headers(topology.stack.webhook_secret, body, webhook_id)
        start.wait()
        answers.append(topology.post(body, headers))

    senders = [threading.Thread(target=deliver) for _ in range(8)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert sorted(answer.status_code for answer in answers) == [200] * 7 + [202]
    accepted = next(answer.json() for answer in answers if answer.status_code == 202)
    for duplicate in (answer.json() for answer in answers if answer.status_code == 200):
        assert duplicate["duplicate"] is True
        assert duplicate["id"] == job.id
        if duplicate["message_id"] is None:
            assert duplicate["recording"] is True
        else:
            assert duplicate["message_id"] == accepted["message_id"]
    queued = topology.sqs.receive_message(
        QueueUrl=topology.stack.queue_url,
        VisibilityTimeout=0,  # left for the next drain
    ).get("Messages", [])
    assert [message["MessageId"] for message in queued] == [accepted["message_id"]]
    assert topology.queued() == 1


def test_malformed_json(topology: Topology) -> None:
    refused(topology, topology.send_raw(b'{"id": '), 400, "body is not JSON")


def test_duplicate_json_keys(topology: Topology) -> None:
    refused(topology, topology.send_raw(b'{"id": "ft-a", "id": "ft-b"}'), 400, "duplicate JSON key")


def test_oversized_body(topology: Topology) -> None:
    body = json.dumps({"id": "ft-abc", "pad": "x" * 70_000}).encode()
    refused(topology, topology.send_raw(body), 413, "limited to 65536 bytes")


def test_wrong_content_type(topology: Topology) -> None:
    body = b'{"id": "ft-abc"}'
    headers = signed_headers(topology.stack.webhook_secret, body)
    headers["content-type"] = "text/plain"
    refused(topology, topology.post(body, headers), 415, "must be application/json")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"status": "completed"}, "'id'"),
        ({"id": 12}, "'id'"),
        ({"id": "ft-a", "checkpoint_step": "7"}, "'checkpoint_step'"),
        ({"id": "ft-a", "checkpoint_step": True}, "'checkpoint_step'"),
        ({"type": "fine_tuning.job.completed"}, "'data'"),
        (["ft-a"], "JSON object"),
    ],
)
def test_schema_errors_name_the_field(topology: Topology, payload: Any, field: str) -> None:
    refused(topology, topology.send_raw(json.dumps(payload).encode()), 422, field)


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        ({"id": "ft-abc:5", "checkpoint_step": 5}, "remove one"),
        ({"id": "ft-abc", "checkpoint_type": "full"}, "default, merged, adapter"),
        ({"id": "ft-abc", "key": "a/../b"}, "'..'"),
        ({"id": "ft-abc&checkpoint=adapter"}, "is not a fine-tune ID"),
    ],
)
def test_rule_errors_answer_400(topology: Topology, payload: dict[str, Any], text: str) -> None:
    refused(topology, topology.send(payload), 400, text)


def default_key(topology: Topology, job: SimJob) -> str:
    """Where the naming rules put a LoRA job's final merged archive."""
    return f"{topology.stack.prefix}{normalize(job.model_output_name or job.id)}.tar.zst"


def archived_by_webhook(topology: Topology, job: SimJob) -> dict[str, Any]:
    assert topology.send({"id": job.id}).status_code == 202
    assert topology.run_archiver() == 1
    [event] = topology.events.read()
    assert event["detail"]["key"] == default_key(topology, job)
    return event


@pytest.mark.parametrize("where", ["outside the prefix", "another job's archive"])
def test_a_webhook_key_outside_a_folder_under_the_prefix_is_refused_400(
    topology: Topology, where: str
) -> None:
    prefix = topology.stack.prefix
    job = lora(topology)
    if where == "outside the prefix":
        key, text = f"elsewhere/{time.time_ns()}.tar.zst", f"outside the archive prefix {prefix!r}"
    else:
        victim = lora(topology)
        archived_by_webhook(topology, victim)
        key, text = default_key(topology, victim), f"top level of the archive prefix {prefix!r}"
    refused(topology, topology.send({"id": job.id, "key": key}), 400, text)
    assert topology.run_archiver() == 0
    assert len(topology.stored.versions_of(key)) == (0 if where == "outside the prefix" else 1)


def test_a_webhook_key_in_a_folder_under_the_prefix_is_archived_there(
    topology: Topology,
) -> None:
    job = lora(topology)
    key = f"{topology.stack.prefix}chosen/{time.time_ns()}/m.tar.zst"
    answer = topology.send({"id": job.id, "key": key})
    assert answer.status_code == 202, answer.text
    assert topology.run_archiver() == 1
    [event] = topology.events.read()
    assert (event["detail"]["key"], event["detail"]["manifest_key"]) == (
        key,
        f"{key}.manifest.json",
    )
    archive = topology.together.archive_for(job.id, "merged")
    assert event["detail"]["sha256"] == topology.together.sha256(archive)
    assert len(topology.stored.versions_of(key)) == 1
    assert topology.stored.versions_of(default_key(topology, job)) == []


@pytest.mark.parametrize("where", ["outside the prefix", "another job's archive"])
def test_the_archiver_refuses_a_queued_key_outside_a_folder_under_the_prefix(
    topology: Topology, where: str
) -> None:
    """Defence in depth: a message that did not come through the webhook (anyone who may
    send to the queue) is held to the same rule, and nothing is asked of Together."""
    job = lora(topology)
    if where == "outside the prefix":
        key = f"elsewhere/{time.time_ns()}.tar.zst"
    else:
        victim = lora(topology)
        archived_by_webhook(topology, victim)
        key = default_key(topology, victim)
    message = ArchiveMessage(id=job.id, key=key, received_at=time.time())
    topology.sqs.send_message(
        QueueUrl=topology.stack.queue_url, MessageBody=message.model_dump_json()
    )
    assert topology.run_archiver() == 1
    assert topology.queued() == 0  # refused, not retried
    assert topology.queued(topology.stack.dead_letter_queue_url) == 0
    assert topology.events.read() == []
    assert len(topology.stored.versions_of(key)) == (0 if where == "outside the prefix" else 1)
    assert not [r for r in topology.together.log if job.id in r.path]


@pytest.mark.parametrize(
    "payload",
    [
        {"id": "ft-abc", "status": "failed"},
        {"type": "fine_tuning.job.cancelled", "data": {"id": "ft-abc"}},
    ],
)
def test_not_completed_is_ignored(topology: Topology, payload: dict[str, Any]) -> None:
    answer = topology.send(payload)
    assert answer.status_code == 200
    assert answer.json()["ignored"] is True
    assert answer.json()["reason"]
    assert topology.queued() == 0


# -- the archiver: idempotency, concurrency, failures ----------------------------------


def enqueue_twice(topology: Topology, job: SimJob) -> None:
    """The same request queued twice, as SQS may deliver it (at-least-once). Each send
    has its own webhook-id: the module's tests share one table, and an id reused for
    another job's body is refused 409."""
    for n in range(2):
        webhook_id = f"msg_dup_{n}_{time.time_ns()}"
        assert topology.send({"id": job.id}, webhook_id=webhook_id).status_code == 202


def test_duplicate_delivery_archives_once(topology: Topology) -> None:
    job = lora(topology)
    enqueue_twice(topology, job)
    assert topology.run_archiver() == 1
    assert topology.run_archiver() == 1
    events = topology.events.read()
    assert [e["detail-type"] for e in events] == ["Fine-tune Archived"]
    assert len(topology.stored.versions_of(events[0]["detail"]["key"])) == 1
    assert len(topology.stored.versions_of(events[0]["detail"]["manifest_key"])) == 1
    assert topology.queued() == 0


def test_concurrent_deliveries_archive_once(topology: Topology) -> None:
    job = lora(topology, size=2048 * KIB)
    topology.together.set_faults(Faults(rate_limit_bps=2 * 1024 * 1024))  # ~1 s per archive
    enqueue_twice(topology, job)
    runners = [threading.Thread(target=topology.run_archiver) for _ in range(2)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    deadline = time.monotonic() + 30
    while topology.queued() and time.monotonic() < deadline:
        topology.run_archiver()  # the loser's message comes back and finds the work done
    assert topology.queued() == 0
    events = topology.events.read()
    assert [e["detail-type"] for e in events] == ["Fine-tune Archived"]
    assert len(topology.stored.versions_of(events[0]["detail"]["key"])) == 1
    assert len(topology.stored.versions_of(events[0]["detail"]["manifest_key"])) == 1


def test_failing_source_retries_then_dead_letters(topology: Topology) -> None:
    job = lora(topology)
    topology.together.set_faults(Faults(fail_first=10_000, fail_status=503))
    assert topology.send({"id": job.id}).status_code == 202
    runs = 0
    before = len(topology.local.deliveries)
    deadline = time.monotonic() + 60
    while topology.queued() and time.monotonic() < deadline:
        runs += topology.run_archiver()
    assert runs == 5  # maxReceiveCount in template.yaml
    deliveries = topology.local.deliveries[before:]
    assert [(d.receive_count, d.failed) for d in deliveries] == [(n, True) for n in range(1, 6)]
    assert not any(d.raised for d in deliveries)  # reported, not a Lambda error
    # back after 1, 2, 4, 8 (and 15) minutes, not the queue's 90 (the test skips them)
    assert [d.visibility_s for d in deliveries] == [60, 120, 240, 480, 900]
    assert topology.queued(topology.stack.dead_letter_queue_url) == 1
    events = topology.events.read()
    assert len(events) == 5
    assert {e["detail-type"] for e in events} == {"Fine-tune Archive Failed"}
    assert all(e["detail"]["retryable"] for e in events)
    assert topology.stored.open_uploads() == []
    key = f"{topology.stack.prefix}{normalize(job.model_output_name or '')}.tar.zst"
    assert topology.stored.versions_of(key) == []
    assert topology.stored.versions_of(f"{key}.manifest.json") == []


def hold_lease(topology: Topology, job: SimJob) -> None:
    """Another archiver's live lease on the LoRA job's default archive, in the state table."""
    spec = resolve_download(parse_job_ref(job.id), parse_checkpoint_type(None), TrainingType.LORA)
    key = idempotency_key(spec, Destination(topology.stack.bucket, topology.stack.prefix), None)
    ledger = DynamoStateStore(topology.local.aws.client("dynamodb"), topology.stack.table_name)
    assert ledger.claim_archive(key, "another-archiver", lease_s=600, ttl_s=3600) == FreshStart()


def test_a_plan_is_recorded_once_per_claim_and_read_back_by_its_lease_alone(
    topology: Topology,
) -> None:
    ledger = DynamoStateStore(topology.local.aws.client("dynamodb"), topology.stack.table_name)
    first, second = {"upload_id": "u-1"}, {"upload_id": "u-2"}
    assert ledger.claim_archive("plan-test", "owner-1", lease_s=600, ttl_s=3600) == FreshStart()
    assert ledger.recorded_plan("plan-test", "owner-1") is None
    assert ledger.record_plan("plan-test", "owner-1", first) == first
    assert ledger.record_plan("plan-test", "owner-1", second) == first  # the first stays
    assert ledger.recorded_plan("plan-test", "owner-1") == first
    assert ledger.recorded_plan("plan-test", "owner-2") is None  # not this owner's lease
    with pytest.raises(StorageError):  # nor may another owner record one
        ledger.record_plan("plan-test", "owner-2", second)
    ledger.release_archive("plan-test", "owner-1", "Boom: a test failure")
    assert ledger.claim_archive("plan-test", "owner-2", lease_s=600, ttl_s=3600) == FreshStart()
    assert ledger.recorded_plan("plan-test", "owner-2") is None  # a claim starts without one
    assert ledger.record_plan("plan-test", "owner-2", second) == second
    assert ledger.recorded_plan("no-such-archive", "owner-1") is None


def test_part_digests_of_a_large_batch_are_kept_in_small_items(topology: Topology) -> None:
    client = topology.local.aws.client("dynamodb")
    digests = DynamoPartDigests(client, topology.stack.table_name)
    first, second = BatchItem(first=1, last=70), BatchItem(first=71, last=75)
    for batch in (first, second):
        for number in range(batch.first, batch.last + 1):
            digests.record("digest-test", batch, number, PartDigest(number, f"{number:064x}"))
    assert digests.recorded("digest-test", first) == {
        n: PartDigest(n, f"{n:064x}") for n in range(1, 71)
    }
    assert sorted(digests.all("digest-test", [first, second])) == list(range(1, 76))
    items = [item for item in client.scan(TableName=topology.stack.table_name)["Items"]
             if item["pk"]["S"].startswith("parts#digest-test#")]  # fmt: skip
    parts_per_item = sorted(sum(name.startswith("p") and name[1:].isdigit() for name in item)
                            for item in items)  # fmt: skip
    assert parts_per_item == [5, 6, 32, 32]  # 70 parts in 32 + 32 + 6, then the 5 of batch 2
    digests.forget("digest-test", [first, second])
    assert digests.all("digest-test", [first, second]) == {}


def emitted_metrics(output: str) -> dict[str, Any]:
    """The metric values in the Embedded Metric Format lines Powertools printed."""
    found: dict[str, Any] = {}
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                found.update({m["Name"]: document[m["Name"]] for m in directive["Metrics"]})
    return found


WAITING = "another archiver holds this request; retrying later"


def test_a_request_whose_lease_is_held_elsewhere_waits_in_fresh_messages(
    topology: Topology, capsys: pytest.CaptureFixture[str]
) -> None:
    job = lora(topology)
    hold_lease(topology, job)
    assert topology.send({"id": job.id}).status_code == 202
    capsys.readouterr()
    with logged() as lines:
        [first] = topology.local.deliver(wait_s=0)
        [second] = topology.local.deliver(wait_s=0)
    # Consumed, not failed: no Lambda error, no receive used up towards the DLQ; the
    # request comes back as a new message, counted like a continuation.
    assert [(d.failed, d.raised, d.receive_count) for d in (first, second)] == [
        (False, False, 1)
    ] * 2
    assert first.message_id != second.message_id
    assert [json.loads(d.body)["continuations"] for d in (first, second)] == [0, 1]
    waits = [(line["level"], line["continuation"], line["retry_in_s"])
             for line in lines if line["message"] == WAITING]  # fmt: skip
    assert waits == [("INFO", 1, 0), ("INFO", 2, 0)]  # the deployment's FT_ARCHIVER_LEASE_WAIT
    assert [line for line in lines if line["level"] not in ("DEBUG", "INFO")] == []
    # counted as a wait, not a failure (and no "no metrics to publish" warning)
    assert emitted_metrics(capsys.readouterr().out) == {"ArchiveLeaseWaits": [1.0]}
    assert topology.events.read(wait_s=1) == []  # the holder reports the outcome
    assert topology.queued() == 1  # the next ask
    topology.drain(topology.stack.queue_url)


def test_a_request_still_held_at_the_continuation_limit_is_retried_like_a_failure(
    topology: Topology, reconfigure: Callable[[str, str], None]
) -> None:
    reconfigure("FT_ARCHIVER_MAX_CONTINUATIONS", "1")
    job = lora(topology)
    hold_lease(topology, job)
    assert topology.send({"id": job.id}).status_code == 202
    with logged() as lines:
        [waited] = topology.local.deliver(wait_s=0)
        [held] = topology.local.deliver(wait_s=0)
    assert (waited.failed, json.loads(held.body)["continuations"]) == (False, 1)
    # it has waited as long as an archive may run: back after 1 minute, then the DLQ
    assert (held.failed, held.raised, held.visibility_s) == (True, False, 60)
    [warning] = [line for line in lines if line["level"] == "WARNING"]
    assert warning["message"] == "archive failed; the message will be retried"
    assert "another archiver" in warning["error"]
    topology.local.skip_delay(held)
    topology.drain(topology.stack.queue_url)


def test_a_malformed_request_is_logged_by_field_and_retried(
    topology: Topology, capsys: pytest.CaptureFixture[str]
) -> None:
    topology.sqs.send_message(
        QueueUrl=topology.stack.queue_url, MessageBody=json.dumps({"id": "ft-x"})
    )
    capsys.readouterr()
    with logged() as lines:
        [delivery] = topology.local.deliver(wait_s=0)
    assert (delivery.failed, delivery.raised) == (True, False)
    assert emitted_metrics(capsys.readouterr().out) == {"ArchiveRetries": [1.0]}
    [error] = [line for line in lines if line["level"] == "ERROR"]
    assert (error["message"], error["fields"]) == ("malformed archive request", ["received_at"])
    assert delivery.visibility_s == error["retry_in_s"] == 60
    topology.local.skip_delay(delivery)  # its retry would only fail again
    topology.drain(topology.stack.queue_url)


def test_a_variable_missing_from_the_archiver_fails_its_first_message_in_one_line(
    topology: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not at the first continuation, a quarter of an hour into an archive: before the
    message is read, with one log line naming the variable, and nothing asked of
    Together. The message is kept: once the variable is back, it is archived."""
    from ft_archiver.handlers import dependencies

    job = lora(topology)
    assert topology.send({"id": job.id}).status_code == 202
    monkeypatch.delenv("ARCHIVE_QUEUE_URL")
    dependencies.reset()
    try:
        with logged() as lines:
            [delivery] = topology.local.deliver(wait_s=0)
    finally:
        monkeypatch.setenv("ARCHIVE_QUEUE_URL", topology.stack.queue_url)
        dependencies.reset()
    assert (delivery.failed, delivery.raised) == (True, False)  # reported, not a crash
    [line] = [line for line in lines if line["level"] not in ("DEBUG", "INFO")]
    assert line["level"] == "ERROR"
    assert line["error"] == "ArchiverFunction cannot start: missing ARCHIVE_QUEUE_URL"
    assert "exception" not in line  # no traceback, pydantic's or ours
    archive = topology.together.archive_for(job.id, "merged")
    assert topology.together.blob_requests(archive) == []
    assert topology.events.read(wait_s=1) == []
    assert topology.run_archiver() == 1  # the same message, configured again
    assert [e["detail-type"] for e in topology.events.read()] == ["Fine-tune Archived"]
    assert topology.queued() == 0


def test_rule_failure_is_reported_once_and_not_retried(topology: Topology) -> None:
    job = topology.together.add_job("Full")
    assert topology.send({"id": job.id, "checkpoint_type": "adapter"}).status_code == 202
    assert topology.run_archiver() == 1
    assert topology.queued() == 0
    assert topology.queued(topology.stack.dead_letter_queue_url) == 0
    events = topology.events.read()
    assert [e["detail"]["error_type"] for e in events] == ["CheckpointTypeNotAllowedError"]


def test_a_download_together_refuses_is_reported_once_and_not_retried(topology: Topology) -> None:
    """A LoRA job without a merged model passes the rules; Together's download answers
    400. Asking again gets the same answer: one failure event that says what to ask for
    instead, nothing back on the queue, nothing in the dead-letter queue."""
    name = f"acme/refused-{uuid.uuid4().hex[:8]}"
    job = topology.together.add_job("Lora", size=100 * 1024, model_output_name=name)
    del job.final["merged"]
    assert topology.send({"id": job.id}).status_code == 202
    assert topology.run_archiver() == 1
    assert topology.queued() == 0
    assert topology.queued(topology.stack.dead_letter_queue_url) == 0
    [event] = topology.events.read()
    detail = event["detail"]
    assert (detail["error_type"], detail["retryable"]) == ("DownloadRefusedError", False)
    assert "ask for checkpoint type 'adapter' instead" in detail["error"]
    written = name.replace("/", "--")  # the bucket is shared with the module's other tests
    assert [key for key in topology.stored.all_versions() if written in key] == []
    assert [u for u in topology.stored.open_uploads() if written in u["Key"]] == []


@pytest.fixture
def s3_proxy(topology: Topology, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3FaultProxy]:
    """The functions' AWS calls through a fault-injecting proxy (the tests' own go direct)."""
    from ft_archiver.handlers import dependencies

    with s3_fault_proxy(topology.local.aws.endpoint_url, monkeypatch.setenv) as proxy:
        dependencies.reset()
        yield proxy
    monkeypatch.undo()
    dependencies.reset()


def test_access_denied_by_s3_is_reported_once_and_not_retried(
    topology: Topology, s3_proxy: S3FaultProxy
) -> None:
    job = lora(topology)
    s3_proxy.faults = [S3Fault("POST", {"uploads": ""}, 403, "AccessDenied", times=1000)]
    assert topology.send({"id": job.id}).status_code == 202
    assert topology.run_archiver() == 1
    assert topology.queued() == 0
    assert topology.queued(topology.stack.dead_letter_queue_url) == 0
    assert s3_proxy.faults[0].hits == 1
    events = topology.events.read()
    assert [(e["detail"]["error_type"], e["detail"]["retryable"]) for e in events] == [
        ("StorageAccessDeniedError", False)
    ]
    assert topology.stored.open_uploads() == []


# -- the Lambda deadline: continue in new invocations, resume, never download twice ------


@pytest.fixture
def two_lanes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Few parts at a time, so that a short invocation cannot take them all at once."""
    from ft_archiver.handlers import dependencies

    monkeypatch.setenv("FT_ARCHIVER_CONCURRENCY", "2")
    monkeypatch.setenv("FT_ARCHIVER_UPLOAD_CONCURRENCY", "2")
    monkeypatch.setenv("FT_ARCHIVER_DEADLINE_MARGIN", "1.2")
    dependencies.reset()
    yield
    monkeypatch.undo()
    dependencies.reset()


@pytest.mark.usefixtures("two_lanes")
def test_an_archive_longer_than_one_invocation_continues_and_completes(
    topology: Topology,
) -> None:
    job = lora(topology, size=4 * 1024 * KIB)  # 16 parts of 256 KiB
    archive = topology.together.archive_for(job.id, "merged")
    topology.together.set_faults(Faults(rate_limit_bps=512 * KIB))  # 0.5 s per part
    assert topology.send({"id": job.id}).status_code == 202
    invocations = 0
    while topology.queued() and invocations < 20:
        invocations += topology.run_archiver(timeout_s=2.0)
    assert invocations >= 3
    events = topology.events.read()
    assert [e["detail-type"] for e in events] == ["Fine-tune Archived"]
    detail = events[0]["detail"]
    assert detail["sha256"] == topology.together.sha256(archive)
    assert detail["parts"] == 16
    assert len(topology.stored.versions_of(detail["key"])) == 1
    assert len(topology.stored.versions_of(detail["manifest_key"])) == 1
    assert topology.stored.open_uploads() == []
    # every part was downloaded exactly once across all the invocations
    ranges = [
        r.range or "" for r in topology.together.blob_requests(archive) if r.range != "bytes=0-1"
    ]
    assert len(ranges) == len(set(ranges)) == 16


@pytest.mark.usefixtures("two_lanes")
def test_an_archive_past_the_continuation_limit_fails_cleanly_and_can_be_asked_again(
    topology: Topology, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ft_archiver.handlers import dependencies

    monkeypatch.setenv("FT_ARCHIVER_MAX_CONTINUATIONS", "1")  # the stack's MaxContinuations
    dependencies.reset()
    job = lora(topology, size=4 * 1024 * KIB)  # needs at least 3 invocations of 2 s
    topology.together.set_faults(Faults(rate_limit_bps=512 * KIB))
    assert topology.send({"id": job.id}).status_code == 202
    before = len(topology.local.deliveries)
    runs = 0
    while topology.queued() and runs < 10:
        runs += topology.run_archiver(timeout_s=2.0)
    consumed = [d for d in topology.local.deliveries[before:] if not d.failed]
    # the request, then its one continuation, which met the deadline at the limit
    assert [json.loads(d.body)["continuations"] for d in consumed] == [0, 1]
    assert topology.queued() == 0
    assert topology.queued(topology.stack.dead_letter_queue_url) == 0
    events = topology.events.read()
    # On a loaded machine an invocation's start can eat its first part's time: that one
    # fails retryably and is retried, which is not what this test is about.
    retried = [e for e in events if e["detail"].get("retryable") is True]
    assert all(e["detail"]["error_type"] == "NoProgressError" for e in retried), retried
    [event] = [e for e in events if e not in retried]
    failed = event["detail"]
    assert (event["detail-type"], failed["error_type"], failed["retryable"]) == (
        "Fine-tune Archive Failed", "ContinuationLimitError", False,
    )  # fmt: skip
    assert "more than 1 continuations" in failed["error"]
    assert "raise MaxContinuations" in failed["error"]
    assert topology.stored.open_uploads() == []
    key = f"{topology.stack.prefix}{normalize(job.model_output_name or '')}.tar.zst"
    assert topology.stored.versions_of(key) == []
    # released, not left paused or leased: asked again with room, it starts afresh
    monkeypatch.setenv("FT_ARCHIVER_MAX_CONTINUATIONS", "100")
    dependencies.reset()
    assert topology.send({"id": job.id}).status_code == 202
    runs = 0
    while topology.queued() and runs < 20:
        runs += topology.run_archiver(timeout_s=2.0)
    [archived] = topology.events.read()
    assert archived["detail-type"] == "Fine-tune Archived"
    archive = topology.together.archive_for(job.id, "merged")
    assert archived["detail"]["sha256"] == topology.together.sha256(archive)
    assert topology.stored.open_uploads() == []
