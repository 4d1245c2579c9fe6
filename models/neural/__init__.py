"""The neural side of the analysis core: pure, no model file and no session here.

:mod:`.inference` (the contract: :class:`~.inference.Network`, :class:`~.inference.NeuralModels`),
:mod:`.preprocess` (input contract), :mod:`.masks_to_waves`, :mod:`.delineation` (the
network masks and the neural stage of ``analyze``), :mod:`.classifier` (AI findings of
registered classifiers). The models are loaded at the edge
(:mod:`ecgread.workers.model_registry`, :mod:`ecgread.workers.onnx_models`) and passed in;
training (torch) is :mod:`ecgread.workers.training`.
Nothing is imported here, so importing the package loads neither torch nor onnxruntime.
"""
