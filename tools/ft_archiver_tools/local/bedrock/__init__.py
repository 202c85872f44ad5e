"""A fake Amazon Bedrock control plane for Custom Model Import (``server.FakeBedrock``),
held to botocore's own service model (``service_model``)."""
