"""Tokenization: loss on assistant tokens only, every assistant turn trained, the end-of-turn token kept."""

from ftlab import encode, modeling


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
