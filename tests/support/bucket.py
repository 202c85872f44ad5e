"""What a test or a trial reads back from the archive bucket, asked of S3 itself."""

import hashlib
import json
import time
from typing import Any


class BucketInspector:
    """One bucket, through a boto3 S3 client of the caller's (moto's, LocalStack's)."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    def keys(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.name)
        return [item["Key"] for item in listing.get("Contents", [])]

    def all_versions(self) -> list[str]:
        """The key of every object version and delete marker: nothing half-written hides."""
        listing = self.client.list_object_versions(Bucket=self.name)
        return [item["Key"] for item in listing.get("Versions", [])] + [
            item["Key"] for item in listing.get("DeleteMarkers", [])
        ]

    def versions_under(self, prefix: str) -> list[dict[str, Any]]:
        """The object versions under ``prefix`` (a key's own, and its manifest's)."""
        listing = self.client.list_object_versions(Bucket=self.name, Prefix=prefix)
        return list(listing.get("Versions", []))

    def versions_of(self, key: str) -> list[dict[str, Any]]:
        """The versions of exactly this key (not of its manifest, which the key prefixes)."""
        return [item for item in self.versions_under(key) if item["Key"] == key]

    def open_uploads(self, prefix: str = "") -> list[dict[str, Any]]:
        under = {"Prefix": prefix} if prefix else {}
        listing = self.client.list_multipart_uploads(Bucket=self.name, **under)
        return list(listing.get("Uploads", []))

    def wait_for_upload(self, prefix: str = "", timeout_s: float = 30.0) -> None:
        """Until a multipart upload under ``prefix`` is open, or ``timeout_s`` passed."""
        deadline = time.monotonic() + timeout_s
        while not self.open_uploads(prefix) and time.monotonic() < deadline:
            time.sleep(0.05)

    def sha256_of(self, key: str) -> str:
        body = self.client.get_object(Bucket=self.name, Key=key)["Body"]
        digest = hashlib.sha256()
        for chunk in iter(lambda: body.read(8 << 20), b""):
            digest.update(chunk)
        return digest.hexdigest()

    def head(self, key: str) -> dict[str, Any]:
        """HeadObject with the object's checksum."""
        return dict(self.client.head_object(Bucket=self.name, Key=key, ChecksumMode="ENABLED"))

    def tags(self, key: str) -> dict[str, str]:
        tag_set = self.client.get_object_tagging(Bucket=self.name, Key=key)["TagSet"]
        return {tag["Key"]: tag["Value"] for tag in tag_set}

    def manifest(self, key: str) -> dict[str, Any]:
        """The manifest stored at ``key``, parsed; its Content-Type must say JSON."""
        answer = self.client.get_object(Bucket=self.name, Key=key)
        assert answer["ContentType"] == "application/json"
        manifest: dict[str, Any] = json.loads(answer["Body"].read())
        return manifest

    def assert_nothing_written(self) -> None:
        """No object, no version or delete marker, no open multipart upload."""
        assert self.keys() == []
        assert self.all_versions() == []
        assert self.open_uploads() == []
