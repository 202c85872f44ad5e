"""The unpacker (issue 18): a verified archive in the bucket turned into a folder of the
model's files, each its own verified object, with an index beside it.

Where each part of it lives:

- ``unpacker``: the use case, ``Unpacker.unpack``, as the story of one run: find the
  verified archive, read what an earlier run left, one pass over the stream, the index,
  the manifest's pointer. How a run ends (done, refused, failed, suspended) is its
  module docstring.
- The resume and completeness rules (what an earlier index proves, which open upload is
  resumed or aborted, which one a stopped run names, what an incomplete index lists):
  ``domain/unpack/resume.py``, pure.
- ``folder_index``: the index in the bucket, read back and written (``EarlierFiles``:
  what an earlier run's index lists, confirmed against the bucket; ``RunIndex``: this
  run's, incomplete then complete; ``ProgressCheckpoints``: its progress now and then).
- ``tar_pass``: one pass over the archive's stream, each member admitted before a byte of
  it is written; the member, layout and limit rules it applies stay in
  ``domain/unpack/members.py``, ``layout.py`` and ``budget.py``.
- ``archive_stream``: the pass's input, ranged GETs in order, decompressed (zstd, gzip).
- ``file_writer``: each file through the archive's own multipart writer
  (service/transfer.py), fed in order from the stream; the run's ``Deadline`` and
  continuation limit, which the writer asks between parts and the pass between files.
- ``model_files``: what the readiness verdicts read (``domain/unpack/readiness.py``).
- ``manifest_pointer``: the archive's manifest pointed at the complete index.
- ``announce``: the ``Fine-tune Unpacked`` and ``Fine-tune Unpack Failed`` events.
- ``ports``: what it needs of the bucket.
"""
