"""The import stage's rules (pure): what a folder is imported as (``names``), whether it
may be imported and the exact request (``request``), when the next look at a job is due
(``schedule``), and the record the stage leaves beside the folder (``record``)."""
