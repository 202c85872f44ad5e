"""The command line's list command: the catalog as a table, or one JSON object per line."""

import argparse
import sys

from ft_archiver.domain.catalog import table
from ft_archiver.settings import CliSettings
from ft_archiver.wiring.catalog import build_catalog
from ft_archiver_tools.cli_archive import destination


def run_list(args: argparse.Namespace, settings: CliSettings) -> int:
    where = destination(settings)

    def warn(problem: str) -> None:
        print(f"ft-archiver: warning: {problem}", file=sys.stderr)

    entries = build_catalog(settings).entries(where.bucket, where.prefix, warn)
    if args.json:
        for entry in entries:
            print(entry.model_dump_json())
    elif entries:
        print("\n".join(table(entries)))
    else:
        print(f"no archives under s3://{where.bucket}/{where.prefix}")
    return 0
