"""``ft-archiver serve`` and ``ft-archiver send-webhook``: the local topology, by hand."""

import contextlib
import json
import threading
from urllib.parse import urlsplit

import requests

from ft_archiver.domain.parts import MIB
from ft_archiver.domain.webhook import decode_secret
from ft_archiver.errors import ConfigurationError, OperationalError
from ft_archiver_tools.local.aws import TEST_CREDENTIALS, capture_events, read_events
from ft_archiver_tools.local.model_archive import ModelSpec
from ft_archiver_tools.local.serve import LocalDeployment
from ft_archiver_tools.local.simulator import TogetherSimulator
from ft_archiver_tools.local.webhook_sender import send_webhook

POLL_EVERY_S = 10.0
COMPLETES_AFTER_S = 30.0


def _show_events(deployment: LocalDeployment, queue_url: str, stop: threading.Event) -> None:
    """One line per event on the bus, as it arrives."""
    while not stop.is_set():
        with contextlib.suppress(Exception):  # moto stopping under us at Ctrl-C
            for event in read_events(deployment.aws, queue_url, wait_s=1):
                detail = event.get("detail", {})
                what = (detail.get("imported_model_arn") or detail.get("filename")
                        or detail.get("folder_url") or detail.get("error"))  # fmt: skip
                print(
                    f"event  {event.get('detail-type')}: {detail.get('id')} -> {what}", flush=True
                )


def run_serve(
    sample_size: int,
    stop: threading.Event | None = None,
    unpack: bool = False,
    imports: bool = False,
) -> int:
    """``unpack``: the stack deployed with Unpack=true, its unpack stage polled too;
    ``imports``: with Import=bedrock as well (and Unpack=true, which it needs), against
    the fake Bedrock."""
    stop = stop or threading.Event()
    unpack = unpack or imports
    parameters = {
        "Unpack": "true" if unpack else "false",
        "Import": "bedrock" if imports else "none",
    }
    with (
        TogetherSimulator() as together,
        LocalDeployment(
            together.api_key, together.base_url, name="ft-archiver-local",
            schedule_every_s=POLL_EVERY_S,
            parameters=parameters,
        ) as deployment,
    ):  # fmt: skip
        stack = deployment.stack
        assert stack is not None
        # real model archives (a Hugging Face-shaped model), so that they can be unpacked
        job = together.add_job("Lora", model=ModelSpec(size=sample_size, seed=1),
                               model_output_name="acme/sample")  # fmt: skip
        later = together.add_job("Lora", model=ModelSpec(size=sample_size, seed=2),
                                 model_output_name="acme/sample-polled",
                                 completes_after_s=COMPLETES_AFTER_S)  # fmt: skip
        capture = capture_events(deployment.aws, stack.bus_name, "ft-archiver-local-events")
        print(f"webhook endpoint  {deployment.webhook_url}")
        print(f"webhook secret    {stack.webhook_secret}")
        print(f"AWS (moto)        {deployment.aws.endpoint_url}")
        print(f"Together (sim)    {together.base_url}")
        print(f"bucket            {stack.bucket} (prefix {stack.prefix})")
        print(f"queue / DLQ       {stack.queue_url} / {stack.dead_letter_queue_url}")
        if (unpacking := stack.unpack) is not None:
            print(f"unpack queue/DLQ  {unpacking.queue_url} / {unpacking.dead_letter_queue_url}")
            print(f"unpacked folders  under {unpacking.prefix}")
        if (importing := stack.imports) is not None and deployment.bedrock is not None:
            print(f"import queue/DLQ  {importing.queue_url} / {importing.dead_letter_queue_url}")
            print(f"Bedrock (fake)    {deployment.bedrock.endpoint_url}, role {importing.role_arn}")
        print(f"poller            every {POLL_EVERY_S:.0f} s (the template's PollSchedule)")
        print(f"sample LoRA job   {job.id} ({sample_size / MIB:,.0f} MiB, completed)")
        print(f"watched LoRA job  {later.id}: completes in {COMPLETES_AFTER_S:.0f} s; the "
              "poller archives it with no webhook")  # fmt: skip
        print("\npoint the command line at it (another shell):")
        variables = {
            **TEST_CREDENTIALS,
            "AWS_ENDPOINT_URL": deployment.aws.endpoint_url,
            "TOGETHER_API_KEY": together.api_key, "TOGETHER_BASE_URL": together.base_url,
            "ARCHIVE_BUCKET": stack.bucket, "ARCHIVE_PREFIX": stack.prefix,
            "EVENT_BUS_NAME": stack.bus_name, "STATE_TABLE_NAME": stack.table_name,
            "ARCHIVE_QUEUE_URL": stack.queue_url,
        }  # fmt: skip
        if stack.imports is not None and deployment.bedrock is not None:
            variables["AWS_ENDPOINT_URL_BEDROCK"] = deployment.bedrock.endpoint_url
            variables["IMPORT_ROLE_ARN"] = stack.imports.role_arn
        print("  export " + " ".join(f"{name}={value}" for name, value in variables.items()))
        print("  ft-archiver list;  ft-archiver backfill --dry-run")
        print("\nor send a webhook:")
        print(f"  ft-archiver send-webhook {deployment.webhook_url} "
              f"--secret {stack.webhook_secret} {job.id}")  # fmt: skip
        print("\nevents appear below. Ctrl-C stops everything.", flush=True)
        watcher = threading.Thread(
            target=_show_events, args=(deployment, capture, stop), daemon=True
        )
        watcher.start()
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        stop.set()
        watcher.join(timeout=5)
    return 0


def run_send_webhook(url: str, secret: str, fine_tune_id: str, extra: dict[str, object]) -> int:
    """Exit 0 for a 2xx answer, 1 otherwise; a bad URL or secret is a usage error."""
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ConfigurationError(f"{url!r} is not an http(s) URL: e.g. https://host/path")
    try:
        decode_secret(secret)
    except ValueError as exc:
        raise ConfigurationError(f"--secret: {exc} (the value looks like whsec_...)") from None
    payload = {"id": fine_tune_id, "status": "completed", **extra}
    try:
        response = send_webhook(url, secret, payload)
    except requests.RequestException as exc:
        raise OperationalError(f"could not POST to {url}: {type(exc).__name__}") from None
    try:
        answer = json.dumps(response.json())
    except ValueError:
        answer = f"(not JSON) {response.text[:200]!r}"
    print(f"HTTP {response.status_code} {answer}")
    return 0 if response.status_code < 300 else 1
