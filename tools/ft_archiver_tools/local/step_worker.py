"""One worker of the local state machine in a process of its own, so that it can be
killed as a Lambda invocation dies: ``python -m ft_archiver_tools.local.step_worker
ENDPOINT ACTIVITY_ARN TIMEOUT_S``, in the environment of ArchiveStepsFunction."""

import json
import sys

from ft_archiver_tools.local.serve import run_step
from ft_archiver_tools.local.step_functions import run_task, step_functions_client


def main(endpoint: str, activity_arn: str, timeout_s: float) -> None:
    client = step_functions_client(endpoint)
    while True:
        task = client.get_activity_task(activityArn=activity_arn, workerName="process")
        if task.get("taskToken"):
            run_task(client, task["taskToken"], json.loads(task["input"]), run_step, timeout_s)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
