"""``ecgread web``: the cardiologist's side. A worklist of unconfirmed reads, the ECG view
(tracing with evidence, measurements, statements, vendor read, the prior ECG), confirm or
correct and sign, live quality figures from the edits, and the audit trail in a browser.

A layer of its own between ``ecgread.workers`` and ``ecgread.cli``: it shows the tracing
(``reporting``) and signs reads (``workers.review``), so it cannot sit in ``integration``.
"""
