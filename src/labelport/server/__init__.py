"""The team server: PostgreSQL, SSH-key signed requests, and the same client API over HTTP.

:mod:`~labelport.server.app` is the HTTP face, :mod:`~labelport.server.signing` the request signing,
:mod:`~labelport.server.remote` the client side, :mod:`~labelport.server.admin` the administration.
"""
