"""The Poller: Together's job list, the archive queue, its own state items."""

from ft_archiver.adapters.poll_state import DynamoPollLedger
from ft_archiver.adapters.together.client import log_unexpected
from ft_archiver.service.poller import Poller
from ft_archiver.settings import PollerSettings
from ft_archiver.wiring.aws import archive_queue, aws_client
from ft_archiver.wiring.together import Unexpected, together_client


def build_poller(settings: PollerSettings, on_unexpected: Unexpected = log_unexpected) -> Poller:
    return Poller(
        together_client(settings, on_unexpected),
        archive_queue(settings),
        DynamoPollLedger(aws_client("dynamodb", settings), settings.state_table_name),
        settings.selection,
        archive_since=settings.archive_since,
        max_archives_per_tick=settings.poll_max_archives,
    )
