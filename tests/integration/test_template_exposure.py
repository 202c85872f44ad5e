"""template.yaml as the internet and a webhook-secret holder meet it: what they can reach,
overwrite and cost (issue 17, section 3), read from the template itself."""

import re

import pytest

from ft_archiver.domain.parts import DEFAULT_MAX_ARCHIVE_GIB
from ft_archiver.settings import ArchiverSettings
from ft_archiver_tools.template import function_environment, load_template

TEMPLATE = load_template()
PARAMETERS = TEMPLATE["Parameters"]


# -- the archive prefix ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "allowed"),
    [
        ("models/", True),
        ("team/models/", True),
        ("", False),  # a webhook's key could then be any key in a folder of the bucket
        ("/", False),
        ("/models/", False),
        ("models", False),
    ],
)
def test_the_archive_prefix_parameter_is_never_empty(prefix: str, allowed: bool) -> None:
    parameter = PARAMETERS["ArchivePrefix"]
    assert re.fullmatch(parameter["AllowedPattern"], parameter["Default"])
    accepted = bool(re.fullmatch(parameter["AllowedPattern"], prefix)) and len(prefix) >= int(
        parameter["MinLength"]
    )
    assert accepted is allowed


# -- what one request can cost -----------------------------------------------------------


@pytest.mark.parametrize("function", ["ArchiverFunction", "ArchiveStepsFunction"])
def test_both_archiving_functions_refuse_archives_above_max_archive_gib(function: str) -> None:
    """The archiver plans every archive; the steps plan a delegated one again (its size
    may have changed): each applies the limit before CreateMultipartUpload."""
    environment = function_environment(TEMPLATE, function)
    assert environment["FT_ARCHIVER_MAX_ARCHIVE_GIB"] == {"Ref": "MaxArchiveGiB"}
    parameter = PARAMETERS["MaxArchiveGiB"]
    assert parameter["Default"] == DEFAULT_MAX_ARCHIVE_GIB == ArchiverSettings.model_fields[
        "max_archive_gib"
    ].default
    assert parameter["MinValue"] == 0  # 0: no limit
