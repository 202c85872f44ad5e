"""``ft-archiver serve`` and ``ft-archiver send-webhook``: the local topology, by hand."""

import contextlib
import json
import threading

from ft_archiver.domain.parts import MIB
from ft_archiver.local.serve import LocalDeployment
from ft_archiver.local.simulator import TogetherSimulator
from ft_archiver.local.webhook_sender import send_webhook


def run_serve(sample_size: int, stop: threading.Event | None = None) -> int:
    stop = stop or threading.Event()
    with (
        TogetherSimulator() as together,
        LocalDeployment(
            together.api_key, together.base_url, name="ft-archiver-local"
        ) as deployment,
    ):
        stack = deployment.stack
        assert stack is not None
        job = together.add_job("Lora", size=sample_size, model_output_name="acme/sample")
        print(f"webhook endpoint  {deployment.webhook_url}")
        print(f"webhook secret    {stack.webhook_secret}")
        print(f"AWS (moto)        AWS_ENDPOINT_URL={deployment.aws.endpoint_url}")
        print(f"Together (sim)    {together.base_url}")
        print(f"bucket            {stack.bucket} (prefix {stack.prefix})")
        print(f"queue / DLQ       {stack.queue_url} / {stack.dead_letter_queue_url}")
        print(f"sample LoRA job   {job.id} ({sample_size / MIB:,.0f} MiB)")
        print("\ntry:")
        print(
            f"  ft-archiver send-webhook {deployment.webhook_url} "
            f"--secret {stack.webhook_secret} {job.id}"
        )
        print("\nCtrl-C stops everything.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def run_send_webhook(url: str, secret: str, fine_tune_id: str, extra: dict[str, object]) -> int:
    payload = {"id": fine_tune_id, "status": "completed", **extra}
    response = send_webhook(url, secret, payload)
    print(f"HTTP {response.status_code} {json.dumps(response.json())}")
    return 0 if response.status_code < 300 else 1
