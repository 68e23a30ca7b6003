"""A Hugging Face tokenizer as GGUF metadata: its tokens, their types, BPE merges, the pre-tokenizer llama.cpp
must apply, the special tokens (begin, end, end of turn, padding) and the chat template.

llama.cpp names a BPE tokenizer's pre-tokenizer (how text is split before merging) by a hash of the token ids of
one fixed check text, as its own converter does; the hashes of the model families ftlab exports are below. A
SentencePiece-style tokenizer (Llama 2, Mistral) goes through the gguf package's LlamaHfVocab.
"""

from __future__ import annotations

import json
from hashlib import sha256
from pathlib import Path

CHECK_TEXT = ("\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ "
              "🦙🦙 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ "
              "------======= нещо на Български ''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, "
              "'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL")
"""The text llama.cpp's converter encodes to tell pre-tokenizers apart."""

PRE_TOKENIZERS = {
    "0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5": "llama-bpe",  # Llama 3
    "855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249": "smollm",  # SmolLM, SmolLM2
    "e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea": "qwen2",  # Qwen1.5, Qwen2, Qwen2.5
    "d4540891389ea895b53b399da6ac824becc30f2fba0e9ddbb98f92e55ca0e97c": "qwen2",  # Qwen3
}


class UnknownTokenizer(ValueError):
    """A BPE tokenizer whose pre-tokenizer llama.cpp would not recognise."""


def pre_tokenizer(tok) -> str:
    """llama.cpp's name of a BPE tokenizer's pre-tokenizer, or UnknownTokenizer."""
    digest = sha256(str(tok.encode(CHECK_TEXT)).encode()).hexdigest()
    if digest not in PRE_TOKENIZERS:
        raise UnknownTokenizer(f"GGUF export knows the tokenizers of Llama 3, SmolLM2 and Qwen2/2.5/3; this one "
                               f"(check hash {digest[:12]}) splits text in a way llama.cpp may not reproduce")
    return PRE_TOKENIZERS[digest]


def is_bpe(folder: Path) -> bool:
    """Whether the tokenizer is byte-level BPE (GPT-2 style), not SentencePiece-style with byte fallback."""
    spec = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    return spec.get("model", {}).get("type") == "BPE" and not spec["model"].get("byte_fallback")


def add_vocab(writer, tok, folder: Path, vocab_size: int, eos_ids: list[int]) -> None:
    """Write the tokenizer of `folder` (loaded as `tok`) into `writer`, with the model's end-of-turn ids."""
    import gguf

    if is_bpe(folder):
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre(pre_tokenizer(tok))
        tokens, types = _bpe_tokens(tok, vocab_size)
        writer.add_token_list(tokens)
        writer.add_token_types(types)
    else:
        vocab = gguf.LlamaHfVocab(folder)
        tokens, scores, types = zip(*vocab.all_tokens())
        writer.add_tokenizer_model("llama")
        writer.add_tokenizer_pre("default")
        writer.add_token_list(list(tokens))
        writer.add_token_scores(list(scores))
        writer.add_token_types(list(types))
    special = gguf.SpecialVocab(folder, load_merges=is_bpe(folder), n_vocab=vocab_size)
    special.chat_template = tok.chat_template or special.chat_template
    if eos_ids:
        special.special_token_ids["eos"] = eos_ids[0]
    special.add_to_gguf(writer, quiet=True)
    if len(eos_ids) > 1 or (eos_ids and eos_ids[0] != tok.eos_token_id):
        writer.add_eot_token_id(eos_ids[0])


def _bpe_tokens(tok, vocab_size: int) -> tuple[list[str], list[int]]:
    """Every id's token text (padding ids past the tokenizer's own as unused) and its type."""
    import gguf

    by_id = {i: t for t, i in tok.get_vocab().items()}
    added = {i: t for i, t in tok.added_tokens_decoder.items()}
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in added:
            tokens.append(added[i].content)
            types.append(gguf.TokenType.CONTROL if added[i].special else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.NORMAL)
    return tokens, types
