"""The serving layer: the model server (base and tuned side by side, one copy of the weights per base), loading
a base with its adapters (shared_base), lock-step generation and batch classification of a file. The
OpenAI-compatible HTTP API on top of it is app wiring (ftlab/app/openai_api.py).

It may import ftlab.config, ftlab.paths, ftlab.modeling, ftlab.data, ftlab.methods, ftlab.eval.scoring and
ftlab.runs; never the app."""
