"""The team server: PostgreSQL, SSH-key signed requests, and the same client API over HTTP.

:mod:`~labelport.server.app` assembles the HTTP face from :mod:`~labelport.server.routers` (one module
per resource) and :mod:`~labelport.server.requests` (what every route shares),
:mod:`~labelport.server.signing` is the request signing,
:mod:`~labelport.server.remote` the client side, :mod:`~labelport.server.admin` the administration.
"""
