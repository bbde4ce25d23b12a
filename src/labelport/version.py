"""The package's version, in a module of its own so that every floor may read it.

>>> from labelport.version import __version__
>>> __version__.count(".")
2
"""

__version__ = "0.1.0"
