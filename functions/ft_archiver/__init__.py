"""ft-archiver: stream Together AI fine-tuned models into S3 as they finish training."""

__version__ = "0.1.0"
