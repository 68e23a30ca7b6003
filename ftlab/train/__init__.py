"""The training layer: a run's setup (data, tokenizer, model with its method), the loop and its lifecycle
(engine), the loss, optimizers and schedules, resumable checkpoints, activation recompute, precision, CPU
threads, memory and the heap governor, early stopping, data-parallel groups, and the estimate before Start (plan).

It may import ftlab.config, ftlab.paths, ftlab.modeling, ftlab.data, ftlab.methods, ftlab.eval (the run's
evaluations) and ftlab.runs.run_dir (where a run writes); never serving or the app. Entry point:
`ftlab.train.engine.run(cfg, run_dir)`."""
