"""Which rotary scalings GGUF export writes, and what it says of the ones it doesn't (before any weight is read):
the file would otherwise load in llama.cpp and answer with the wrong positions."""

from __future__ import annotations

import pytest

from ftlab.deploy import gguf_file

LLAMA = {"architectures": ["LlamaForCausalLM"], "max_position_embeddings": 4096}


@pytest.mark.parametrize("scaling", [None, {"rope_type": "linear", "factor": 2.0},
                                     {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 1024},
                                     {"rope_type": "yarn", "factor": 4.0, "beta_fast": 32, "beta_slow": 1}])
def test_linear_and_yarn_scalings_are_written(scaling):
    assert gguf_file.architecture({**LLAMA, "rope_scaling": scaling}) == "llama"


@pytest.mark.parametrize("scaling, named", [
    ({"rope_type": "dynamic", "factor": 2.0}, "rope scaling 'dynamic' is not written yet"),
    ({"rope_type": "longrope", "short_factor": [1.0], "long_factor": [2.0]}, "'longrope'"),
    ({"rope_type": "yarn", "factor": 40.0, "mscale": 1.0, "mscale_all_dim": 1.0}, "mscale, mscale_all_dim"),
    ({"rope_type": "yarn", "factor": 4.0, "attention_factor": 1.2}, "attention_factor"),
    ({"rope_type": "yarn", "factor": 4.0, "truncate": False}, "truncate: False"),
    ({"rope_type": "yarn", "factor": 4.0, "beta_fast": 16}, "beta_fast: 16")])
def test_a_scaling_it_does_not_write_is_refused_by_name(scaling, named):
    with pytest.raises(gguf_file.NotExportable, match=named.replace("(", r"\(")) as refused:
        gguf_file.architecture({**LLAMA, "rope_parameters": scaling})
    assert "yarn" in str(refused.value)  # and says what is written
