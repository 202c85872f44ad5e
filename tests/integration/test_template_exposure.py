"""template.yaml as the internet and a webhook-secret holder meet it: what they can reach,
overwrite and cost (issue 17, section 3), read from the template itself."""

import re

import pytest

from ft_archiver_tools.template import load_template

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
