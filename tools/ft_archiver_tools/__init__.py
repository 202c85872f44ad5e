"""ft-archiver's command line and local tooling: the ``ft-archiver`` command, the Together
simulator, the moto and LocalStack launchers, the S3 fault proxy, serve and the demo.

It imports the runtime package ``ft_archiver`` and is never imported by it: the Lambda
artifact (template.yaml's CodeUri, ``functions/``) holds the runtime alone."""
