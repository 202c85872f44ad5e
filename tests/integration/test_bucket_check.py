"""The cold-start check of the archive bucket's lifecycle, against moto over HTTP."""

import uuid
from typing import Any

import pytest

from ft_archiver.adapters.bucket_check import aborts_incomplete_uploads, lifecycle_warning
from ft_archiver_tools.local.aws import MotoServer
from ft_archiver_tools.local.resources import deploy_local


def test_the_stacks_own_bucket_passes(aws: MotoServer) -> None:
    stack = deploy_local(aws, f"lc-{uuid.uuid4().hex[:10]}", together_api_key="k",
                         together_base_url="http://127.0.0.1:9/v1")  # fmt: skip
    assert lifecycle_warning(aws.client("s3"), stack.bucket, stack.prefix) is None


def test_an_existing_bucket_without_the_rule_is_warned_about(aws: MotoServer) -> None:
    bucket = f"existing-{uuid.uuid4().hex[:10]}"
    aws.client("s3").create_bucket(Bucket=bucket)
    warning = lifecycle_warning(aws.client("s3"), bucket, "models/")
    assert warning is not None
    assert "aborts incomplete multipart uploads under 'models/'" in warning


def test_a_bucket_that_does_not_exist_is_reported_not_raised(aws: MotoServer) -> None:
    warning = lifecycle_warning(aws.client("s3"), f"gone-{uuid.uuid4().hex[:10]}", "m/")
    assert warning is not None
    assert "NoSuchBucket" in warning


ABORT = {"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}}


@pytest.mark.parametrize(
    ("rules", "covered"),
    [
        ([{"Status": "Enabled", "Filter": {"Prefix": ""}, **ABORT}], True),
        ([{"Status": "Enabled", "Filter": {}, **ABORT}], True),
        ([{"Status": "Enabled", "Prefix": "models/", **ABORT}], True),
        ([{"Status": "Enabled", "Filter": {"Prefix": "models/"}, **ABORT}], True),
        ([{"Status": "Enabled", "Filter": {"Prefix": "other/"}, **ABORT}], False),
        ([{"Status": "Disabled", "Filter": {"Prefix": ""}, **ABORT}], False),
        ([{"Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 9}}], False),
        ([{"Status": "Enabled", "Filter": {"Tag": {"Key": "k", "Value": "v"}}, **ABORT}], False),
        ([], False),
    ],
)
def test_which_rules_cover_the_prefix(rules: list[dict[str, Any]], covered: bool) -> None:
    assert aborts_incomplete_uploads(rules, "models/") is covered
