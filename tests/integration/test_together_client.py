"""TogetherClient over HTTP against the simulator: auth, redirects, probes, retries, resume."""

import socket
import threading
from collections.abc import Iterator

import pytest

from ft_archiver.adapters.retry import RetryPolicy
from ft_archiver.adapters.together import TogetherClient
from ft_archiver.adapters.together.guard import Resolver, resolve
from ft_archiver.domain.checkpoints import DownloadSpec, TrainingType
from ft_archiver.errors import (
    ConfigurationError,
    DownloadLinkRefusedError,
    FineTuneNotFoundError,
    SourceChangedError,
    TogetherAuthError,
    TogetherError,
    TogetherUnavailableError,
    UnsafeDownloadError,
)
from ft_archiver.service.ports import ArchiveSource
from ft_archiver_tools.local import archive_bytes
from ft_archiver_tools.local.simulator import Faults, TogetherSimulator


@pytest.fixture
def sim(together: TogetherSimulator) -> Iterator[TogetherSimulator]:
    together.set_faults(Faults())
    yield together
    together.set_faults(Faults())


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(
    sim: TogetherSimulator, sleeps: Sleeps | None = None, key: str | None = None
) -> TogetherClient:
    policy = RetryPolicy(
        max_attempts=4,
        base_delay_s=0.01,
        max_delay_s=5,
        sleep=sleeps if sleeps is not None else Sleeps(),
    )
    return TogetherClient(key or sim.api_key, sim.base_url, read_timeout_s=5, retry=policy)


def merged(job_id: str, step: int | None = None) -> DownloadSpec:
    return DownloadSpec(job_id, step, TrainingType.LORA, "merged")


def test_retrieve_reads_the_nested_training_type(sim: TogetherSimulator) -> None:
    job = sim.add_job("Lora", model_output_name="acme/x")
    found = client(sim).retrieve(job.id)
    assert (found.id, found.training_type, found.model_output_name) == (job.id, "Lora", "acme/x")


def test_list_checkpoints(sim: TogetherSimulator) -> None:
    job = sim.add_job("Full", steps={10: 100, 20: 100})
    checkpoints = client(sim).list_checkpoints(job.id)
    assert [(c.step, c.intermediate) for c in checkpoints] == [(10, True), (20, True), (21, False)]
    assert checkpoints[-1].checkpoint_type == "Final"


def test_open_download_follows_the_redirect_and_probes(sim: TogetherSimulator) -> None:
    job = sim.add_job("Lora", size=12345, download="redirect")
    source = client(sim).open_download(merged(job.id))
    archive = sim.archive_for(job.id, "merged")
    assert source.size == 12345
    assert source.etag == archive.etag
    assert source.content_type == "application/zstd"
    assert source.url.startswith(f"http://localhost:{sim.port}/blobs/")
    probe = sim.blob_requests(archive)[-1]
    assert probe.range == "bytes=0-1"
    assert not probe.authorization


def test_a_direct_download_is_probed_and_read_from_the_api_host(sim: TogetherSimulator) -> None:
    """openapi.yaml documents /finetune/download as a 200 application/octet-stream from
    the API itself: no redirect, the key goes with every read (it is the API's origin)."""
    job = sim.add_job("Lora", size=300_000, download="direct")
    together = client(sim)
    before = len(sim.log)
    source = together.open_download(merged(job.id))
    assert source.url.startswith(f"{sim.base_url}/finetune/download?")
    assert (source.size, source.redirected_host, source.ranged) == (300_000, None, True)
    into = bytearray(100_000)
    together.read_range(source, 150_000, memoryview(into))
    archive = sim.archive_for(job.id, "merged")
    assert bytes(into) == archive_bytes.read(archive.seed, 150_000, 100_000)
    reads = sim.log[before:]
    assert [(r.target, r.range, r.status) for r in reads] == [
        ("download", "bytes=0-1", 206), ("download", "bytes=150000-249999", 206),
    ]  # fmt: skip
    assert all(r.authorization for r in reads)


def test_a_refused_storage_link_is_asked_for_once_more(sim: TogetherSimulator) -> None:
    """A 403 from storage is not the API key (which never goes there): a fresh link is
    asked for once, and a second refusal says the link was refused."""
    job = sim.add_job("Lora", size=1000, download="redirect")
    sim.set_faults(Faults(fail_first=1, fail_status=403))
    assert client(sim).open_download(merged(job.id)).size == 1000
    assert [r.status for r in sim.requests_to("download")][-2:] == [302, 302]
    sim.set_faults(Faults(fail_first=2, fail_status=403))
    with pytest.raises(DownloadLinkRefusedError, match="storage host refused") as caught:
        client(sim).open_download(merged(job.id))
    assert caught.value.retryable
    assert "API key" not in str(caught.value)


def test_zero_byte_archive_probe_learns_size_zero(sim: TogetherSimulator) -> None:
    job = sim.add_job("Lora", size=0)
    assert client(sim).open_download(merged(job.id)).size == 0


def test_read_range_returns_exact_bytes(sim: TogetherSimulator) -> None:
    job = sim.add_job("Lora", size=3 * 1024 * 1024)
    together = client(sim)
    source = together.open_download(merged(job.id))
    buffer = bytearray(700_000)
    together.read_range(source, 1_500_000, memoryview(buffer), threading.Event())
    archive = sim.archive_for(job.id, "merged")
    assert bytes(buffer) == archive_bytes.read(archive.seed, 1_500_000, 700_000)


def test_read_range_resumes_after_a_drop(sim: TogetherSimulator) -> None:
    job = sim.add_job("Lora", size=1024 * 1024)
    together = client(sim)
    source = together.open_download(merged(job.id))
    sim.set_faults(Faults(drop_after_bytes=300_000, drop_times=1))
    buffer = bytearray(1024 * 1024)
    together.read_range(source, 0, memoryview(buffer))
    archive = sim.archive_for(job.id, "merged")
    assert bytes(buffer) == archive_bytes.read(archive.seed, 0, 1024 * 1024)
    assert [r.range for r in sim.blob_requests(archive)][-2:] == [
        "bytes=0-1048575",
        "bytes=300000-1048575",
    ]


def test_429_with_retry_after_is_honoured(sim: TogetherSimulator) -> None:
    job = sim.add_job("Lora")
    sim.set_faults(Faults(fail_first=2, fail_status=429, retry_after=3, targets=frozenset({"api"})))
    sleeps = Sleeps()
    assert client(sim, sleeps).retrieve(job.id).id == job.id
    assert sleeps == [3.0, 3.0]


def test_5xx_retries_are_bounded(sim: TogetherSimulator) -> None:
    job = sim.add_job("Lora")
    sim.set_faults(Faults(fail_first=100, fail_status=502, targets=frozenset({"api"})))
    sleeps = Sleeps()
    with pytest.raises(TogetherUnavailableError, match="HTTP 502 to 4 attempts"):
        client(sim, sleeps).retrieve(job.id)
    assert len(sleeps) == 3


def test_unreachable_host_is_retried_then_reported_without_secrets() -> None:
    policy = RetryPolicy(max_attempts=2, base_delay_s=0, sleep=Sleeps())
    together = TogetherClient("sk-secret-value", "http://127.0.0.1:9/v1", retry=policy)
    with pytest.raises(TogetherUnavailableError, match="unreachable after 2 attempts") as caught:
        together.retrieve("ft-abc")
    assert "sk-secret-value" not in str(caught.value)
    assert "sk-secret-value" not in repr(together)


def test_rejected_key(sim: TogetherSimulator) -> None:
    job = sim.add_job("Lora")
    with pytest.raises(TogetherAuthError, match="the Together API key was rejected") as caught:
        client(sim, key="sk-wrong").retrieve(job.id)
    assert "sk-wrong" not in str(caught.value)


def test_unknown_job(sim: TogetherSimulator) -> None:
    with pytest.raises(FineTuneNotFoundError, match="fine-tune ft-nope not found"):
        client(sim).retrieve("ft-nope")


def test_changed_source_is_detected(sim: TogetherSimulator) -> None:
    job = sim.add_job("Lora", size=1000)
    together = client(sim)
    source = together.open_download(merged(job.id))
    stale = type(source)(source.url, source.size, source.content_type, '"stale-etag"')
    with pytest.raises(SourceChangedError, match="412"):
        together.read_range(stale, 0, memoryview(bytearray(10)))


def test_signature_query_string_never_appears_in_errors(sim: TogetherSimulator) -> None:
    job = sim.add_job("Lora", size=1000, download="redirect")
    together = client(sim)
    source = together.open_download(merged(job.id))
    sim.set_faults(Faults(fail_first=100, fail_status=500))
    with pytest.raises(TogetherUnavailableError) as caught:
        together.read_range(source, 0, memoryview(bytearray(10)))
    assert "/blobs/" in str(caught.value)
    assert "X-Amz-Signature" not in str(caught.value)


def test_size_from_content_length_when_range_is_ignored(sim: TogetherSimulator) -> None:
    job = sim.add_job("Lora", size=4321)
    sim.set_faults(Faults(ignore_range=True))
    together = client(sim)
    source = together.open_download(merged(job.id))
    assert source.size == 4321
    whole = bytearray(4321)
    together.read_range(source, 0, memoryview(whole))
    archive = sim.archive_for(job.id, "merged")
    assert bytes(whole) == archive_bytes.read(archive.seed, 0, 4321)


def test_server_ignoring_a_partial_range_is_an_error(sim: TogetherSimulator) -> None:
    job = sim.add_job("Lora", size=4321)
    together = client(sim)
    source = together.open_download(merged(job.id))
    sim.set_faults(Faults(ignore_range=True))
    with pytest.raises(TogetherError, match="answered HTTP 200"):
        together.read_range(source, 100, memoryview(bytearray(10)))


def test_ranged_reads_reuse_one_connection(sim: TogetherSimulator) -> None:
    job = sim.add_job("Lora", size=4 * 1024 * 1024)
    together = client(sim)
    source = together.open_download(merged(job.id))
    for start in range(0, 4 * 1024 * 1024, 1024 * 1024):
        together.read_range(source, start, memoryview(bytearray(1024 * 1024)))
    archive = sim.archive_for(job.id, "merged")
    reads = [r for r in sim.blob_requests(archive) if r.range != "bytes=0-1"]
    assert len(reads) == 4
    assert len({r.client_port for r in reads}) == 1


def test_a_plain_http_base_url_off_loopback_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="must be https"):
        TogetherClient("sk-secret-value", "http://api.together.xyz/v1")


# -- where a download may be redirected ------------------------------------------------

SIGNATURE = "X-Amz-Signature=sim-secret-signature"


def production(sim: TogetherSimulator, resolver: Resolver = resolve) -> TogetherClient:
    """Production rules for downloads, against the simulator on 127.0.0.1: the API is
    the base URL (trusted as configured), but no redirect may lead to plain http or to
    loopback, which is where the simulator's own blobs are."""
    policy = RetryPolicy(max_attempts=3, base_delay_s=0, sleep=Sleeps())
    return TogetherClient(
        sim.api_key, sim.base_url, connect_timeout_s=2, read_timeout_s=5, retry=policy,
        allow_loopback=False, resolver=resolver,
    )  # fmt: skip


def refused_redirect(
    sim: TogetherSimulator, together: TogetherClient, target: str
) -> UnsafeDownloadError:
    """The download endpoint redirects to ``target``: the client refuses it at once,
    not retried, and nothing is asked of the target."""
    job = sim.add_job("Lora")
    job.redirect_to = target
    downloads, blobs = len(sim.requests_to("download")), len(sim.requests_to("blob"))
    with pytest.raises(UnsafeDownloadError) as caught:
        together.open_download(merged(job.id))
    assert caught.value.retryable is False
    assert len(sim.requests_to("download")) == downloads + 1
    assert len(sim.requests_to("blob")) == blobs
    message = str(caught.value)
    assert SIGNATURE not in message
    assert sim.api_key not in message
    assert message.startswith(f"fine-tune {job.id} merged archive: refused ")
    return caught.value


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "http://169.254.169.254: only https"),
        ("https://169.254.169.254/latest/meta-data/iam/security-credentials/",
         "169.254.169.254 resolves to 169.254.169.254, the instance metadata address"),
        ("https://[fd00:ec2::254]/latest/meta-data/", "the instance metadata address"),
        ("http://10.0.0.1/x", "http://10.0.0.1: only https"),
        ("https://10.0.0.1/x", "10.0.0.1, a private address"),
        ("https://192.168.1.20:8443/x", "https://192.168.1.20:8443: 192.168.1.20 resolves"),
        ("https://169.254.170.2/v2/credentials", "a link-local address"),
        ("https://localhost:{port}/blobs/x", "localhost resolves to"),
        ("https://localhost:{port}/blobs/x", "a loopback address"),
        ("https://127.0.0.1:{port}/blobs/x", "a loopback address"),
        ("https://[::1]:{port}/x", "https://[::1]:{port}: ::1 resolves to ::1, a loopback"),
        ("https://[::ffff:127.0.0.1]:{port}/x", "a loopback address"),
        ("https://0.0.0.0:{port}/x", "an unspecified address"),
        ("https://224.0.0.251/x", "a multicast address"),
        ("http://localhost:{port}/blobs/x", "only https"),  # the simulator's own blob
        ("file:///etc/passwd", "a file: URL"),
        ("gopher://127.0.0.1:6379/_INFO", "a gopher: URL"),
    ],
)  # fmt: skip
def test_production_rules_refuse_redirects_off_https_or_to_local_addresses(
    sim: TogetherSimulator, target: str, reason: str
) -> None:
    target, reason = target.format(port=sim.port), reason.format(port=sim.port)
    if target.startswith("http"):
        target += ("&" if "?" in target else "?") + SIGNATURE
    error = refused_redirect(sim, production(sim), target)
    assert reason in str(error)


def test_production_rules_still_reach_the_api_on_its_configured_host(
    sim: TogetherSimulator,
) -> None:
    job = sim.add_job("Lora", model_output_name="acme/prod")
    together = production(sim)
    assert together.retrieve(job.id).model_output_name == "acme/prod"
    assert [c.step for c in together.list_checkpoints(job.id)] == [1, 1]  # merged, adapter


def test_every_address_of_the_host_must_be_public(sim: TogetherSimulator) -> None:
    def split_horizon(host: str, port: int) -> list[str]:
        assert (host, port) == ("storage.example", 443)
        return ["93.184.216.34", "10.1.2.3"]

    error = refused_redirect(sim, production(sim, split_horizon), "https://storage.example/b")
    assert "storage.example resolves to 10.1.2.3, a private address" in str(error)


def test_a_redirect_host_that_does_not_resolve_is_retryable(sim: TogetherSimulator) -> None:
    def no_answer(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    job = sim.add_job("Lora")
    job.redirect_to = "https://storage.example/b?" + SIGNATURE
    with pytest.raises(TogetherUnavailableError, match=r"storage\.example could not be resolved"):
        production(sim, no_answer).open_download(merged(job.id))


def test_a_name_that_resolves_elsewhere_when_connecting_is_refused(
    sim: TogetherSimulator,
) -> None:
    """DNS rebinding: the redirect check is told a public address, the connection then
    reaches loopback (the simulator, on 127.0.0.1 only). The connection is refused on
    the address it reached, before its TLS handshake, and not retried."""
    checked: list[str] = []

    def public_when_checked(host: str, port: int) -> list[str]:
        checked.append(host)
        return ["93.184.216.34"]

    job = sim.add_job("Lora")
    job.redirect_to = f"https://localhost:{sim.port}/blobs/x?{SIGNATURE}"
    with pytest.raises(UnsafeDownloadError) as caught:
        production(sim, public_when_checked).open_download(merged(job.id))
    assert checked == ["localhost"]
    assert caught.value.retryable is False
    message = str(caught.value)
    assert message.startswith(
        f"refused the connection to https://localhost:{sim.port}: it reached 127.0.0.1, "
        "a loopback address"
    )
    assert SIGNATURE not in message


def test_ranged_reads_check_every_new_connection_too(sim: TogetherSimulator) -> None:
    """A source URL checked when the download opened, whose name now resolves to
    loopback: the ranged GET's new connection is refused, not read from."""
    job = sim.add_job("Lora", size=1024, download="redirect")
    opened = client(sim).open_download(merged(job.id))  # http://localhost:PORT/blobs/...
    archive = sim.archive_for(job.id, "merged")
    before = len(sim.blob_requests(archive))
    source = ArchiveSource(opened.url, opened.size, opened.content_type, opened.etag)
    with pytest.raises(UnsafeDownloadError, match="a loopback address"):
        production(sim).read_range(source, 0, memoryview(bytearray(1024)))
    assert len(sim.blob_requests(archive)) == before


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "the instance metadata address"),
        ("http://10.0.0.1/x", "http://10.0.0.1: 10.0.0.1 resolves to 10.0.0.1, a private"),
        ("http://169.254.10.10/x", "a link-local address"),
        ("file:///etc/passwd", "a file: URL"),
    ],
)
def test_the_simulators_loopback_allowance_allows_nothing_else(
    sim: TogetherSimulator, target: str, reason: str
) -> None:
    """A loopback base URL allows http and loopback redirects (the simulator's blobs are
    on http://localhost), and nothing more."""
    error = refused_redirect(sim, client(sim), target)
    assert reason in str(error)
