"""``ft-archiver status``: the archives in flight and recently finished, from the state
table (and Step Functions for the distributed ones)."""
