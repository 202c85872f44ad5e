"""What UnpackQueue delivers and which of it UnpackFunction unpacks; how often an unpack
records its progress."""

import json
from pathlib import Path

import pytest

from ft_archiver.domain.unpack.index import OpenUpload
from ft_archiver.domain.unpack.request import UnpackMessage, parse_unpack_body, why_not_unpacked
from ft_archiver.service.unpack.folder_index import ProgressCheckpoints

EVENTS = Path(__file__).resolve().parents[2] / "events"


def archived_event(**detail: object) -> str:
    event = json.loads((EVENTS / "fine-tune-archived.json").read_text())
    event["detail"].update(detail)
    return json.dumps(event)


def test_an_archived_event_is_read_as_the_archive_it_names() -> None:
    message = parse_unpack_body(archived_event())
    assert message.bucket == "ft-archiver-demo"
    assert message.key == "models/acme--llama-3-8b-demo.tar.zst"
    assert message.id == "ft-176d4ab6-83ef-4492-a256-879fa1a24ea2"
    assert (message.checkpoint_step, message.checkpoint_type) == (None, "merged")
    assert message.continuations == 0


def test_a_continuation_is_read_back_as_it_was_sent() -> None:
    sent = UnpackMessage(bucket="b", key="models/x.tar.zst", id="ft-1", continuations=3)
    assert parse_unpack_body(sent.model_dump_json()) == sent


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (json.dumps({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}),
         "only ft-archiver's 'Fine-tune Archived' events"),
        (json.dumps({"key": "models/x.tar.zst"}), "bucket"),
        ("not json", "Expecting value"),
    ],
)  # fmt: skip
def test_anything_else_is_refused_with_a_reason(body: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_unpack_body(body)


@pytest.mark.parametrize(
    ("message", "adapters", "reason"),
    [
        (UnpackMessage(bucket="b", key="models/x.tar.zst", checkpoint_type="merged"), False, None),
        (UnpackMessage(bucket="b", key="models/x.tar.gz", checkpoint_type="model_output_path"),
         False, None),
        (UnpackMessage(bucket="other", key="models/x.tar.zst"), False, "stack's bucket b"),
        (UnpackMessage(bucket="b", key="elsewhere/x.tar.zst"), False, "not under the archive"),
        (UnpackMessage(bucket="b", key="models/x.tar.zst", checkpoint_type="adapter"), False,
         "UnpackAdapters=true"),
        (UnpackMessage(bucket="b", key="models/x.tar.zst", checkpoint_type="adapter"), True, None),
        (UnpackMessage(bucket="b", key="models/x.bin"), False, "neither .tar.zst nor .tar.gz"),
    ],
)  # fmt: skip
def test_the_selection(message: UnpackMessage, adapters: bool, reason: str | None) -> None:
    found = why_not_unpacked(message, "b", "models/", adapters)
    if reason is None:
        assert found is None
    else:
        assert found is not None
        assert reason in found


def upload(parts_done: int) -> OpenUpload:
    return OpenUpload(path="w", key="f/w", size=100, part_size=10, upload_id="u",
                      parts_done=parts_done, digest_state="", prefix_crc=0)  # fmt: skip


def test_progress_is_recorded_at_most_once_an_interval() -> None:
    now = [0.0]
    written: list[OpenUpload | None] = []
    checkpoints = ProgressCheckpoints(written.append, every_s=30, clock=lambda: now[0])
    checkpoints.file_stored()
    assert written == []  # not 30 s since the run began
    now[0] = 31
    checkpoints.part_stored(upload(1))
    checkpoints.part_stored(upload(2))  # the same instant: not again
    now[0] = 62
    checkpoints.file_stored()
    assert written == [upload(1), None]


def test_a_failed_record_does_not_fail_the_unpack() -> None:
    def refuse(_: OpenUpload | None) -> None:
        raise OSError("S3 said no")

    ProgressCheckpoints(refuse, every_s=0).file_stored()  # logged, not raised
