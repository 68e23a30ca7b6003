"""Model resolution: local folder, cache, bundled packages; a clear message naming every place looked in."""

import time

import pytest

from ftlab import tasks
from ftlab import modeling


def test_bundled_chat_model_is_converted_once_then_loads_fast(smol_dir):
    again = modeling.resolve(tasks.get("chat").default_model)
    assert again.source == "cache" and again.path == smol_dir
    start = time.perf_counter()
    model = modeling.load_model(again.path, "causal_lm")
    tok = modeling.load_tokenizer(again.path)
    load_seconds = time.perf_counter() - start
    ids = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                  add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(**ids, max_new_tokens=12, do_sample=False)
    assert "Paris" in tok.decode(out[0, ids["input_ids"].shape[1]:])
    print(f"SmolLM2 load from cache: {load_seconds:.2f} s")


def test_bundled_classifier_resolves_without_network():
    found = modeling.resolve(tasks.get("classify").default_model)
    assert found.source == "bundled" and (found.path / "model.safetensors").is_file()


def test_local_folder_wins(tiny_llama):
    assert modeling.resolve(str(tiny_llama)).source == "local"


def test_missing_model_names_every_place_looked(tmp_path):
    with pytest.raises(modeling.ModelNotFound) as err:
        modeling.resolve("nobody/no-such-model")
    message = str(err.value)
    assert "nobody/no-such-model" in message
    assert "a local folder" in message and "models cache" in message and "Hugging Face Hub" in message
    assert str(modeling.paths.home()) not in message  # messages name places, not server paths


def test_folder_without_safetensors_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(modeling.ModelNotFound, match="safetensors"):
        modeling.resolve(str(tmp_path))



@pytest.mark.slow  # builds models in several threads (3 s): the quick lane stays under two minutes
def test_models_built_in_parallel_threads_are_whole_and_seeded(tiny_llama, tiny_bert):
    """Training runs, a chat and an estimate build models at the same time in different threads; each must get
    real weights (none left on the meta device) and the same seeded adapter and head as when built alone."""
    import threading

    import torch

    from ftlab.train import engine
    from ftlab.serve import model_server
    from ftlab.train import plan
    from ftlab.config import RunConfig

    configs = {"chat": RunConfig(task="chat", model=str(tiny_llama), method="lora"),
               "classify": RunConfig(task="classify", model=str(tiny_bert), method="lora")}
    configs["chat"].data.path, configs["classify"].data.path = "pirate_chat", "sentiment"

    def build(task):
        plan.estimate(configs[task])
        model_server.load_pair(None, task, configs[task].model)
        return {k: v.detach().clone() for k, v in engine.setup(configs[task]).model.state_dict().items()}

    alone = {task: build(task) for task in configs}
    results, errors = [], []

    def worker(task):
        try:
            results.append((task, build(task)))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"{task}: {exc!r}")

    threads = [threading.Thread(target=worker, args=(task,)) for task in ["chat", "classify"] * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 6
    for task, state in results:
        assert all(v.device.type != "meta" for v in state.values())
        assert state.keys() == alone[task].keys()
        assert all(torch.equal(state[k], alone[task][k]) for k in state), task
