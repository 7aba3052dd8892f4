"""Benchmarks: commands that print figures (never timed unit tests), one module each.

* :mod:`~galaxy10.bench.memory`: peak RSS and wall time of each data path, each in a fresh
  subprocess (the original's load-all, the streamed seed features, the uint8 cache);
* :mod:`~galaxy10.bench.inference`: batch inference images/s of the saved models
  (``inference``) and the click-to-result latency of the prediction button (``button``);
* :mod:`~galaxy10.bench.layout`: the reader's speed over four HDF5 layouts;
* :mod:`~galaxy10.bench.pipeline`: images/s of the NumPy augmentation and of the ``tf.data``
  (device) pipeline, alone and inside one training epoch;
* :mod:`~galaxy10.bench.accuracy`: the seed-faithful CNN and the modern CNN trained on the
  same split and scored on the same held-out images, on a data set and on real images;
* :mod:`~galaxy10.bench.real`: every model cross-validated on real images, and scored under
  other sources' shifts.

Results are printed as a table and merged into ``reports/benchmarks.json`` (or the
``metrics.json`` section of ``accuracy`` and ``real``) by :mod:`~galaxy10.bench.records`, with
a description of the machine, so a figure always says where it was measured. The command
line (:mod:`galaxy10.cli.bench`) lists every benchmark in one table.
"""
