"""The evaluation layer: what the validation split asks and how a model scores on it (scoring), a run's
evaluations over time (evaluator), the base-vs-tuned report, the model card, and the metrics, one file each
(ftlab/metrics/, loaded by path with `evaluate`).

It may import ftlab.config, ftlab.paths, ftlab.modeling, ftlab.data, ftlab.methods and ftlab.runs.run_dir, and
from training only what a measurement needs (the loss, precision); never serving or the app."""
