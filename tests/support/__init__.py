"""What the test suites need of their surroundings, written once and imported by unit,
integration and conformance tests and by the benchmarks alike; no suite imports
another's modules.

- ``fakes``: in-memory fakes of the archiver's ports.
"""
