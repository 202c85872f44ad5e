"""What the test suites need of their surroundings, written once and imported by unit,
integration and conformance tests and by the benchmarks alike; no suite imports
another's modules.

- ``aws``: the emulator, the test credentials and the endpoint, and a test's isolation
  from the developer's own AWS and Together set-up.
- ``settings``: the archiver's configuration for tests, as the variables it reads.
- ``bucket``: a BucketInspector: keys, versions, open uploads, bytes, metadata, tags and
  manifests of the archive bucket, read back from S3.
- ``events``: an EventCapture: the events on a bus, read back from a queue a rule feeds,
  each validated against the published JSON Schemas, filtered by type or job.
- ``sandbox``: template.yaml's resources in moto with the simulator, the inspector, the
  capture and the queues (Sandbox), a local deployment's (ServedSandbox), and the local
  deployment itself: what the integration suite's worlds and the reliability trials use.
- ``faults``: S3 faults: the fault-injecting proxy for clients a test does not hold,
  and tampering with the requests of one it does.
- ``fakes``: in-memory fakes of the archiver's ports.
"""
