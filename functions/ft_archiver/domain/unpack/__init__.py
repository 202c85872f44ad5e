"""The unpacker's pure rules (issue 18), among them which tar members may be written and
where (``members``) and what an unpacked model is ready for (``readiness``). No I/O."""
