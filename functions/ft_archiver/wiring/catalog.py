"""``ft-archiver list``: the bucket read back, with S3 alone (no Together key, no bus)."""

from ft_archiver.adapters.s3_catalog import S3Catalog
from ft_archiver.service.catalog import READERS, Catalog
from ft_archiver.settings import FunctionSettings
from ft_archiver.wiring.aws import aws_client


def build_catalog(settings: FunctionSettings) -> Catalog:
    return Catalog(S3Catalog(aws_client("s3", settings, READERS + 2)), READERS)
