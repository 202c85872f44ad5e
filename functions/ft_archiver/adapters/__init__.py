"""The only modules that do I/O: Together over requests, AWS over boto3."""
