"""The Importer: Bedrock's control plane, the records beside the folders (S3), and the
bus the result goes to."""

from ft_archiver.adapters.bedrock import BedrockModelImports
from ft_archiver.adapters.events import EventBridgePublisher, NoEvents
from ft_archiver.adapters.s3_import_record import S3ImportRecords
from ft_archiver.errors import ConfigurationError
from ft_archiver.service.imports.importer import Importer, ImportOptions
from ft_archiver.service.ports import EventPublisher
from ft_archiver.settings import ImportingSettings
from ft_archiver.wiring.aws import aws_client


def import_options(settings: ImportingSettings) -> ImportOptions:
    if not settings.import_role_arn:
        raise ConfigurationError(
            "no import role: set IMPORT_ROLE_ARN (or --role) to the service role Bedrock "
            "assumes to read the folder (the stack's ImportRoleArn output)"
        )
    return ImportOptions(
        role_arn=settings.import_role_arn,
        max_wait_s=settings.import_max_wait_s,
        poll_first_s=settings.import_poll_s,
        quota_first_s=settings.import_quota_wait_s,
        model_quota=settings.imported_model_quota,
    )


def build_importer(settings: ImportingSettings, announce: bool = True) -> Importer:
    """``announce``: publish the result on EVENT_BUS_NAME (an empty name publishes none)."""
    publisher: EventPublisher = NoEvents()
    if announce and settings.event_bus_name:
        publisher = EventBridgePublisher(aws_client("events", settings), settings.event_bus_name)
    return Importer(
        imports=BedrockModelImports(aws_client("bedrock", settings)),
        records=S3ImportRecords(aws_client("s3", settings)),
        publisher=publisher,
        options=import_options(settings),
    )
