"""The neural side of the analysis core.

Runtime (no torch): :mod:`.preprocess` (input contract), :mod:`.runtime` (ONNX Runtime
sessions, one per process), :mod:`.masks_to_waves`, :mod:`.delineation` (the neural stage
of ``analyze``), :mod:`.classifier` (AI findings of registered classifiers).
Training only (torch): :mod:`.delineation_net`, :mod:`.classifier_net`.
Nothing is imported here, so importing the package loads neither torch nor onnxruntime.
"""
