"""Pure rules and models: no I/O here, so every rule is unit-testable."""
