"""ecgread: the application entry point (the ``ecgread`` command) and its version.

The analysis core is ``models``; the hospital-facing edges are ``integration``;
jobs are ``workers``; outputs are ``reporting``; the audit trail is ``audit``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ecgread")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+dev"
