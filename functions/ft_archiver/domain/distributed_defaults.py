"""The distributed path's defaults: plain numbers, importable without pydantic (the
command line's plan and the sizing read them)."""

from ft_archiver.domain.parts import GIB

# The distributed path's defaults, which template.yaml's parameters repeat (a test
# compares): archives of at least 50 GiB (FanOutThreshold) are spread over 20 workers at
# once (DistributedWorkers) in batches of 8 GiB (DistributedBatchGiB), and read back for
# their whole SHA-256 up to 200 GiB (VerifySha256UpToGiB). Below 50 GiB one function
# finishes within about one or two invocations, and the state machine would add its
# plan, completion and read-back for little gain.
DEFAULT_FAN_OUT_THRESHOLD_GIB = 50
DEFAULT_WORKERS = 20
DEFAULT_BATCH_BYTES = 8 * GIB
DEFAULT_VERIFY_SHA256_UP_TO = 200 * GIB
