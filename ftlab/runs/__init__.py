"""Runs: the run directory (run_dir: config, status, metrics, weights), the job queue that trains one run at a
time (jobs), exporting a run (export) and importing an adapter trained elsewhere as a run (import_adapter).

It may import ftlab.config, ftlab.paths, ftlab.modeling, ftlab.methods and, for the queue, ftlab.train; never
serving or the app."""
