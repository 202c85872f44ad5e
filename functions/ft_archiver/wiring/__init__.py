"""Builds adapters from the settings: the one place that knows them all.

One module per function's needs, so that a function imports only the adapters it uses
(the webhook no transfer engine, no requests, no ctypes): ``aws`` (clients, secrets,
the state table and the queue), ``webhook``, ``together``, ``archiver``, ``poller``,
``catalog``. Nothing is imported here.
"""
