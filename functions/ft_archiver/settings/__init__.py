"""Settings per function, read from the environment once.

Each Lambda function reads its own model, with what it cannot run without as required
fields: ``load`` checks them when the execution environment first asks for its settings
(the first invocation, before any work) and names every missing or invalid variable in
one ConfigurationError. Every function that writes or confines keys (webhook, archiver,
steps) requires a non-empty ARCHIVE_PREFIX. The command line reads ``CliSettings``, in
which every resource is optional: each command checks what it needs (``list`` no
Together key, ``backfill --enqueue`` the queue), so a CLI user sets no table and no
queue.

    FunctionSettings                 region, HTTP timeouts and retries, secret cache
    ├── WebhookSettings              the signing secret, the queue, the table, the prefix
    ├── TransferSettings             bucket, prefix, bus, parts, memory, checksum,
    │   │                            deadline margin, continuations
    │   └── UnpackingSettings        how often an unpack records its progress
    │       └── UnpackerSettings     bucket, prefix, unpack prefix, unpack queue required
    ├── ImportingSettings            the import role, the bus, the pace of the looks
    │   └── ImporterSettings         bucket, unpack prefix, import queue, role required
    └── TogetherSettings             the Together API key (or its secret), the base URL
        ├── PollerSettings           the queue, the table, what to archive of each job
        └── ArchivingSettings        (and TransferSettings) download lanes, leases, the
            │                        largest archive taken
            ├── ArchiverSettings     bucket, prefix, table, queue required; the lease
            │                        wait; the state machine and the size that goes to it
            ├── ArchiveStepsSettings the distributed archive's steps: workers, batches
            └── CliSettings          (and UnpackingSettings, ImportingSettings)
                                     everything optional

A module each: ``base`` (FunctionSettings, and ``load`` with its one-line report),
``webhook``, ``together``, ``poller``, ``archive_steps``, ``transfer``, ``unpacker``,
``importer``, and ``archiving`` (ArchivingSettings and the two that read it, ArchiverSettings and
CliSettings).

boto3 reads its own variables (AWS_ENDPOINT_URL, AWS_REGION, credentials); nothing here
knows whether it talks to AWS or to an emulator.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ft_archiver.settings.archive_steps import ArchiveStepsSettings
    from ft_archiver.settings.archiving import ArchiverSettings, ArchivingSettings, CliSettings
    from ft_archiver.settings.base import FunctionSettings, load
    from ft_archiver.settings.importer import ImporterSettings, ImportingSettings
    from ft_archiver.settings.poller import PollerSettings
    from ft_archiver.settings.together import TogetherSettings
    from ft_archiver.settings.transfer import TransferSettings
    from ft_archiver.settings.unpacker import UnpackerSettings, UnpackingSettings
    from ft_archiver.settings.webhook import WebhookSettings

# Each name's module, imported when the name is first asked for: a function loads its
# own settings model and what it derives from, not every function's (the webhook's cold
# start then builds no transfer or archiving model and loads no awscrt).
_MODULE_OF = {
    "ArchiveStepsSettings": "archive_steps",
    "ArchiverSettings": "archiving",
    "ArchivingSettings": "archiving",
    "CliSettings": "archiving",
    "FunctionSettings": "base",
    "ImporterSettings": "importer",
    "ImportingSettings": "importer",
    "load": "base",
    "PollerSettings": "poller",
    "TogetherSettings": "together",
    "TransferSettings": "transfer",
    "UnpackerSettings": "unpacker",
    "UnpackingSettings": "unpacker",
    "WebhookSettings": "webhook",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "ArchiveStepsSettings",
    "ArchiverSettings",
    "ArchivingSettings",
    "CliSettings",
    "FunctionSettings",
    "ImporterSettings",
    "ImportingSettings",
    "PollerSettings",
    "TogetherSettings",
    "TransferSettings",
    "UnpackerSettings",
    "UnpackingSettings",
    "WebhookSettings",
    "load",
]
