"""What every format's import shares, whatever the format.

- :mod:`~labelport.imports.policy`: the error policy object (Datumaro's ``ImportErrorPolicy``); a
  reader reports each problem to it, and it decides whether anything is written.
- :mod:`~labelport.imports.report`: the import report, with every decision and problem.
- :mod:`~labelport.imports.workers`: the worker pass (validation slices in worker processes).
- :mod:`~labelport.imports.writer`: the writer thread that stores row batches while the next is built.

A format (``labelport.formats.*``) reads files into records; these modules are the import itself.
"""
