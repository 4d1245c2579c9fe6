"""The outputs of a read. Nothing is imported here (weasyprint and hl7apy load on use).

Public API:

- :func:`reporting.context.report_context` -> :class:`reporting.context.ReportContext`:
  the one header (patient, order, acquisition, result status) both outputs use;
- :func:`reporting.pdf.render_pdf`: the one-page PDF report (jinja2 + weasyprint, with the
  SVG tracing of :mod:`reporting.tracing`);
- :func:`reporting.oru.build_oru`: the HL7 v2.5.1 ORU^R01 with the PDF embedded;
- :func:`reporting.encapsulated_pdf.encapsulated_pdf`: the PDF as a DICOM Encapsulated PDF
  instance in the ECG's study, for PACS.
"""
