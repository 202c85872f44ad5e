"""The import stage: a complete model folder into Bedrock Custom Model Import.

Where each rule lives:

- the names, the token and the request: ``domain/imports/names.py``, ``request.py``;
- whether a folder may be imported: its readiness verdict, read by
  ``domain/imports/request.py`` (``why_not_importable``);
- when to look again and when to give up: ``domain/imports/schedule.py``;
- who announces the result, once: the record, ``domain/imports/record.py``;
- one look at an import (start it, follow it, finish it): ``importer.py``;
- what it needs of Bedrock and of the bucket: ``ports.py``.
"""
