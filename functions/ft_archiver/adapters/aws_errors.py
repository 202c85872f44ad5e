"""What every AWS adapter catches from boto3, and an error in a word for its message."""

from botocore.exceptions import BotoCoreError, ClientError

AWS_ERRORS = (ClientError, BotoCoreError)


def error_code(exc: Exception) -> str:
    """An AWS error in a word: its error code, or the exception's type."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "Error"))
    return type(exc).__name__
