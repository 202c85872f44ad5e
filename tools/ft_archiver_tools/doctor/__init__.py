"""``ft-archiver doctor``'s checks: will archiving work with this Together account and
this AWS account, right now?

result     Check: one finding, passed or failed with its fix
together   the key, the list, and the newest completed job's way to an object key
aws        credentials, the bucket (and a write test), the bus, the table, the queue
stack      a deployed stack's resource names, read from its CloudFormation outputs
report     the checks as lines for a person or one JSON document, secrets blanked

Every check is read-only but ``--write-test``'s, which deletes what it wrote.
"""
