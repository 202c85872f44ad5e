"""A huge archive spread over many workers by a Step Functions state machine
(infra/archive.asl.json): one module per step, each a function of the step's input."""
