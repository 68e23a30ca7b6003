"""The data layer: reading a file (readers), its formats and column mapping (formats), cleaning, the split, what
a dataset looks like to a model (insight), encoding rows into token ids (encode) and the token cache.

It may import ftlab.config, ftlab.paths and ftlab.modeling (a tokenizer's files for the cache key); never the
training, evaluation, serving or app layers. `from ftlab import data` gives the loader's API (`data.load`,
`data.DataError`, `data.load_splits`, ...), defined in ftlab.data.dataset."""

from ftlab.data.dataset import (SAMPLES, Dataset, DataError, Splits, load, load_config, load_splits,  # noqa: F401
                                load_validation, looks_like_labels, preview, resolve_path, sample_path, split,
                                to_messages)
