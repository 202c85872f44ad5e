"""Together's fine-tune API and download endpoint: ``TogetherClient`` is the entry point.

client     TogetherClient: the API calls and the download, wired together
session    the HTTP session: the key only to the API's origin, bounded retries
guard      where a download may go: redirect and peer-address checks (SSRF)
download   the redirect to storage, the size probe, the ranged reads
answers    JSON answers read into jobs and checkpoints
urls       a URL as an error message may show it, and its origin
"""

from ft_archiver.adapters.together.client import TogetherClient

__all__ = ["TogetherClient"]
