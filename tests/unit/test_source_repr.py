"""A download's URL is a presigned link (or the API's query): it never shows in a repr,
so a plan or a source that reaches a log line or an exception does not carry it."""

from ft_archiver.service.ports import ArchiveSource

SIGNED = "https://storage.example/blobs/t?X-Amz-Signature=abc123&X-Amz-Credential=cred"


def test_the_source_url_is_kept_but_never_shown() -> None:
    source = ArchiveSource(SIGNED, 10, "application/zstd", '"e"')
    assert source.url == SIGNED
    shown = f"{source!r} {source} {[source]} {dict(source=source)}"
    assert "abc123" not in shown
    assert "storage.example" not in shown
    assert "size=10" in shown
