"""Tokenization: loss on assistant tokens only, every assistant turn trained, the end-of-turn token kept."""

from ftlab import modeling
from ftlab.data import encode


def trained_text(tok, example):
    pairs = zip(example["input_ids"], example["labels"])
    return tok.decode([token for token, label in pairs if label != encode.IGNORE])


def test_only_assistant_turns_carry_loss_including_end_of_turn(smol_dir):
    tok = modeling.load_tokenizer(smol_dir)
    msgs = [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Arr! Ahoy. ⚓"},
            {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Farewell!"}]
    ex = encode.encode_chat(tok, msgs, 256)
    text = trained_text(tok, ex)
    assert "Arr! Ahoy. ⚓<|im_end|>" in text and "Farewell!<|im_end|>" in text
    assert "Hi there" not in text and "Bye" not in text and "user" not in text
    end_of_turn = tok.convert_tokens_to_ids("<|im_end|>")
    trained = [label for label in ex["labels"] if label != encode.IGNORE]
    assert trained.count(end_of_turn) == 2  # each assistant turn keeps its end-of-turn token


def test_train_on_prompt_trains_every_token(smol_dir):
    tok = modeling.load_tokenizer(smol_dir)
    msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]
    ex = encode.encode_chat(tok, msgs, 256, train_on_prompt=True)
    assert ex["labels"] == ex["input_ids"]


def test_tokenizer_without_chat_template_gets_the_plain_template(tiny_bert):
    tok = modeling.load_tokenizer(tiny_bert)
    assert tok.ftlab_plain_template
    msgs = [{"role": "user", "content": "question"}, {"role": "assistant", "content": "answer"}]
    ex = encode.encode_chat(tok, msgs, 128)
    text = trained_text(tok, ex)
    assert "answer" in text and "question" not in text


def test_max_length_truncates_and_batches_pad_to_their_longest(smol_dir):
    tok = modeling.load_tokenizer(smol_dir)
    long = [{"role": "user", "content": "word " * 300}, {"role": "assistant", "content": "ok"}]
    short = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]
    a, b = encode.encode_chat(tok, long, 64), encode.encode_chat(tok, short, 64)
    assert len(a["input_ids"]) == 64
    batch = encode.collate([a, b], tok.pad_token_id)
    assert batch["input_ids"].shape == (2, 64)
    assert int(batch["attention_mask"][1].sum()) == len(b["input_ids"])
    assert (batch["labels"][1, len(b["input_ids"]):] == encode.IGNORE).all()


def expected_labels(tok, msgs, ids):
    """Token-level mask derived from the template alone: an assistant turn's tokens run from the end of the
    prompt that asks for it to the end of the conversation that closes it (its end-of-turn token)."""
    def n_tokens(text):
        return len(tok(text, add_special_tokens=False)["input_ids"])

    spans = [(n_tokens(tok.apply_chat_template(msgs[:i], tokenize=False, add_generation_prompt=True)),
              n_tokens(tok.apply_chat_template(msgs[: i + 1], tokenize=False).rstrip()))
             for i, m in enumerate(msgs) if m["role"] == "assistant"]
    return [t if any(a <= j < b for a, b in spans) else encode.IGNORE for j, t in enumerate(ids)]


def test_loss_mask_is_exact_for_single_and_multi_turn_rows(smol_dir):
    tok = modeling.load_tokenizer(smol_dir)
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    single = [{"role": "system", "content": "Talk like a pirate."}, {"role": "user", "content": "Hi"},
              {"role": "assistant", "content": "Arr! Ahoy. ⚓"}]
    multi = single + [{"role": "user", "content": "Where is the gold?"},
                      {"role": "assistant", "content": "Buried, matey."}]
    for msgs in (single, multi):
        ex = encode.encode_chat(tok, msgs, 512)
        assert ex["labels"] == expected_labels(tok, msgs, ex["input_ids"])
        # every trained run of tokens is one assistant turn and ends with its end-of-turn token
        runs, current = [], []
        for token, label in zip(ex["input_ids"], ex["labels"]):
            if label != encode.IGNORE:
                assert label == token
                current.append(token)
            elif current:
                runs, current = runs + [current], []
        runs += [current] if current else []
        answers = [m["content"] for m in msgs if m["role"] == "assistant"]
        assert [tok.decode(r[:-1]) for r in runs] == answers and all(r[-1] == eos for r in runs)
        untrained = tok.decode([t for t, lab in zip(ex["input_ids"], ex["labels"]) if lab == encode.IGNORE])
        assert "Talk like a pirate." in untrained and "Hi" in untrained
