"""The unpacker (issue 18): a verified archive in the bucket turned into a folder of the
model's files, each its own verified object, with an index beside it.

``unpacker`` is the use case; ``tar_pass`` one pass over the archive's stream, which
``ordered_reader`` (ranged GETs in order), ``decompression`` (zstd, gzip) and tarfile
feed; ``file_writer`` puts each file through the archive's own transfer engine, fed in
order by ``stream_parts``; ``model_files`` gathers what the readiness verdicts read;
``index_store`` reads and writes the index; ``manifest_pointer`` adds the index to the
archive's manifest; ``ports`` is what it needs of the bucket.
"""
