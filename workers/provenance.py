"""What the edge adds to the core's provenance: the version of ecgread itself.

The core (:func:`ecgread.models.analysis.analyze`) records its own algorithm and model
versions; which installed package runs it is the edge's to say (package metadata, read
once per process by ``ecgread.__version__``). Every output (the JSON of ``ecgread
analyze`` and ``ecgread batch``, the PDF, the ORU and the audit row) reads it from
``Analysis.versions["ecgread"]``, the first key, as the JSON contract shows it.
"""

from __future__ import annotations

import dataclasses

import ecgread
from ecgread.models.analysis_result import Analysis


def with_ecgread_version(analysis: Analysis) -> Analysis:
    """``analysis`` with ``versions["ecgread"]`` set to the running ecgread version.

    Example
    -------
    >>> a = with_ecgread_version(analysis)  # doctest: +SKIP
    >>> list(a.versions)[0]  # doctest: +SKIP
    'ecgread'
    """
    versions = {"ecgread": str(ecgread.__version__), **analysis.versions}
    return dataclasses.replace(analysis, versions=versions)
