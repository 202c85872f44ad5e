"""ArchiveStateMachine's tasks run in this process, in the order infra/archive.asl.json
takes them, for a test that needs each task's AWS calls in its own hands (signed with
ArchiveStepsFunction's role, tests/integration/test_enforced_iam.py) where no Step
Functions runs the machine. The definition itself runs on LocalStack
(tests/conformance/test_distributed.py); this walk keeps only its order and the shape of
each task's input, with no retry: the first failure goes to Abort, as Catch hands it on.
"""

import contextlib
import json
from collections.abc import Callable
from typing import Any

from ft_archiver_tools.local.serve import LambdaContext

StepHandler = Callable[[dict[str, Any], Any], dict[str, Any]]
STEP_TIMEOUT_S = 900  # ArchiveStepsFunction's Timeout


def walk_archive_steps(handler: StepHandler, document: str, started: str) -> bool:
    """The execution of input ``document`` (the archiver's StartExecution), started at
    ``started`` (ISO 8601): Plan, every batch of Parts until it has no more, Complete,
    VerifySha256 until done when the plan asks for it, Finish. Whether it finished; a
    failure runs Abort (whose own failure is the state machine's retry, not followed)."""
    state: dict[str, Any] = json.loads(document)

    def task(event: dict[str, Any]) -> dict[str, Any]:
        return handler(event, LambdaContext("ArchiveStepsFunction", STEP_TIMEOUT_S))

    try:
        planned = task({"step": "plan", "state": state})
        state["planned"] = {"plan": planned["plan"], "batches": planned["batches"]}
        for batch in planned["batches"]:
            item = {"step": "parts", "plan": planned["plan"], "batch": batch}
            while task(item)["more"]:
                pass
        state["completed"] = task({"step": "complete", "state": state})
        if planned["plan"]["verify_sha256"]:
            state["sha256"] = task({"step": "verify_sha256", "state": state})
            while state["sha256"]["more"]:
                state["sha256"] = task({"step": "verify_sha256", "state": state})
        task({"step": "finish", "state": state, "started": started})
    except Exception as exc:  # every failure goes to Abort, as the definition's Catch
        cause = json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__})
        state["error"] = {"Error": type(exc).__name__, "Cause": cause}
        with contextlib.suppress(Exception):  # the state machine's retry: not followed
            task({"step": "abort", "state": state})
        return False
    return True
