"""Data: formats are detected, samples load, and bad files get messages that say what and where."""

import json

import pytest

from ftlab import data
from ftlab.app import texts


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_bundled_samples_load_with_their_task():
    chat = data.load("pirate_chat")
    assert chat.format == "messages" and chat.task == "chat" and len(chat.rows) == 160
    cls = data.load("sentiment")
    assert cls.format == "classification" and cls.labels == ["negative", "positive"]


def test_alpaca_rows_become_a_user_assistant_conversation(tmp_path):
    rows = [{"instruction": "Add", "input": "2 and 3", "output": "5"}, {"instruction": "Say hi", "output": "hi"}]
    ds = data.load(write(tmp_path, "a.json", json.dumps(rows)))
    assert ds.format == "alpaca"
    assert data.to_messages(ds.format, ds.rows[0]) == [
        {"role": "user", "content": "Add\n\n2 and 3"}, {"role": "assistant", "content": "5"}]
    assert data.to_messages(ds.format, ds.rows[1])[0] == {"role": "user", "content": "Say hi"}


def test_csv_classification_with_quoted_commas(tmp_path):
    ds = data.load(write(tmp_path, "c.csv", 'text,label\n"good, very good",pos\nbad,neg\n'))
    assert ds.rows[0]["text"] == "good, very good" and ds.labels == ["neg", "pos"]


def test_invalid_jsonl_line_is_reported_with_line_and_column(tmp_path):
    path = write(tmp_path, "bad.jsonl", '{"messages": []}\n{"messages": [oops]}\n')
    with pytest.raises(data.DataError) as err:
        data.load(path)
    assert "bad.jsonl, line 2, column" in str(err.value) and "invalid JSON" in str(err.value)


def test_unknown_columns_are_named_with_the_expected_ones(tmp_path):
    with pytest.raises(data.DataError) as err:
        data.load(write(tmp_path, "x.csv", "foo,bar\n1,2\n"))
    message = str(err.value)
    assert "bar, foo" in message and "messages" in message and "text" in message and "label" in message


def test_json_errors_and_row_problems_are_reported_together(tmp_path):
    lines = ['{"instruction": "a", "output": "b"}', '{"instruction": "a", oops}', '{"instruction": "a", "output": 5}']
    with pytest.raises(data.DataError) as err:
        data.load(write(tmp_path, "i.jsonl", "\n".join(lines)))
    problems = err.value.problems
    assert any(p.startswith("i.jsonl, line 2, column") and "invalid JSON" in p for p in problems)
    assert any("line 3, field `output`: expected text, got int" in p for p in problems)


def test_every_problem_is_reported_at_once(tmp_path):
    rows = [{"messages": [{"role": "user", "content": "hi"}]},
            {"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": ""}]}]
    with pytest.raises(data.DataError) as err:
        data.load(write(tmp_path, "m.jsonl", "\n".join(json.dumps(r) for r in rows)))
    problems = err.value.problems
    assert any("line 1" in p and "no assistant turn" in p for p in problems)
    assert any("line 2" in p and "'robot'" in p for p in problems)
    assert any("line 2" in p and "content: empty" in p for p in problems)


def test_single_label_and_binary_and_empty_files_are_refused(tmp_path):
    with pytest.raises(data.DataError, match="only one label"):
        data.load(write(tmp_path, "one.csv", "text,label\na,x\nb,x\n"))
    binary = tmp_path / "blob.csv"
    binary.write_bytes(b"\x00\x01\x02garbage" * 10)
    with pytest.raises(data.DataError, match="binary"):
        data.load(str(binary))
    with pytest.raises(data.DataError, match="no rows"):
        data.load(write(tmp_path, "empty.jsonl", "\n\n"))
    with pytest.raises(data.DataError, match="unsupported file type"):
        data.load(write(tmp_path, "notes.docx", "x"))


def test_utf8_bom_and_utf16_files_read(tmp_path):
    text = "text,label\ncafé,a\nthé,b\n"
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    (tmp_path / "u16.csv").write_bytes(text.encode("utf-16"))
    assert data.load(str(tmp_path / "bom.csv")).rows[0]["text"] == "café"
    assert data.load(str(tmp_path / "u16.csv")).rows[1]["text"] == "thé"


def test_split_is_seeded_and_holds_out_the_fraction():
    train, val = data.split(list(range(100)), 0.1, seed=3)
    assert len(val) == 10 and sorted(train + val) == list(range(100))
    assert data.split(list(range(100)), 0.1, seed=3) == (train, val)
    assert data.split(list(range(5)), 0.0, seed=3)[1] == []


def test_an_upload_is_kept_under_ftlab_home_by_content(tmp_path):
    from ftlab import paths
    from ftlab.app.lab import Lab

    temp = write(tmp_path, "reviews.csv", "text,label\ngood,pos\nbad,neg\n")
    kept = Lab().keep_upload(temp)
    assert kept.startswith(str(paths.uploads_dir())) and kept.endswith("/reviews.csv")
    assert Lab().keep_upload(temp) == kept
    (tmp_path / "reviews.csv").unlink()
    assert Lab().inspect(kept)["ok"]


def test_sharegpt_rows_in_llama_factory_layout_load_as_conversations(tmp_path):
    rows = [{"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Arr!"}],
             "system": "Be a pirate."}]
    ds = data.load(write(tmp_path, "sg.json", json.dumps(rows)))
    assert ds.format == "sharegpt" and ds.task == "chat"
    assert data.to_messages(ds.format, ds.rows[0]) == [
        {"role": "system", "content": "Be a pirate."}, {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Arr!"}]


def test_sharegpt_unknown_speaker_is_named_with_its_place(tmp_path):
    rows = [{"conversations": [{"from": "human", "value": "Hi"}, {"from": "bot", "value": "Yo"}]}]
    with pytest.raises(data.DataError) as err:
        data.load(write(tmp_path, "sg.jsonl", json.dumps(rows[0])))
    assert "sg.jsonl, line 1, conversations[1].from: 'bot' is not one of" in str(err.value)


def test_prompt_completion_rows_become_a_conversation(tmp_path):
    ds = data.load(write(tmp_path, "pc.jsonl", json.dumps({"prompt": "2+2?", "completion": "4"})))
    assert ds.format == "prompt_completion"
    assert [m["role"] for m in data.to_messages(ds.format, ds.rows[0])] == ["user", "assistant"]


def test_gzipped_jsonl_tsv_and_parquet_files_read(tmp_path):
    import gzip

    import pandas as pd

    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(b'{"text": "good", "label": 1}\n{"text": "bad", "label": 0}\n'))
    assert data.load(str(tmp_path / "c.jsonl.gz")).labels == ["0", "1"]
    assert data.load(write(tmp_path, "c.tsv", "label\ttext\npos\tnice, really\nneg\tawful\n")).rows[0]["text"] == \
        "nice, really"
    pd.DataFrame({"text": ["yes", "no"], "label": ["a", "b"]}).to_parquet(tmp_path / "c.parquet")
    ds = data.load(str(tmp_path / "c.parquet"))
    assert ds.format == "classification" and ds.lines == [1, 2] and ds.rows[1]["text"] == "no"
    (tmp_path / "bad.csv.gz").write_bytes(b"not gzip")
    with pytest.raises(data.DataError, match="bad.csv.gz: not a readable gzip file"):
        data.load(str(tmp_path / "bad.csv.gz"))


def test_cleaning_strips_drops_empty_and_duplicate_rows_and_counts_them(tmp_path):
    text = "text,label\n  good  ,pos\ngood,pos\n,\nbad,neg\n"
    ds = data.load(write(tmp_path, "d.csv", text))
    assert [r["text"] for r in ds.rows] == ["good", "bad"] and ds.lines == [2, 5]
    report = ds.cleaning
    assert (report.stripped, report.empty_dropped, report.duplicates_dropped) == (1, 1, 1)
    assert "1 empty rows dropped" in texts.dataset_summary(ds) and "1 exact duplicates dropped" in texts.dataset_summary(ds)


def test_conflicting_duplicates_are_listed_with_their_lines(tmp_path):
    ds = data.load(write(tmp_path, "k.csv", "text,label\nfine,pos\nfine,neg\nugh,neg\n"))
    assert ds.cleaning.conflicts == ["k.csv, lines 2, 3: 'fine' is labelled neg and pos"]
    assert "Conflicting duplicates" in texts.dataset_summary(ds)


def test_classification_split_is_stratified():
    items = [{"label": 0}] * 90 + [{"label": 1}] * 10
    train, val = data.split(items, 0.2, seed=1, key=lambda e: e["label"])
    assert sum(e["label"] for e in val) == 2 and len(val) == 20 and len(train) == 80


def test_insight_counts_rows_over_max_length_and_marks_loss_tokens(smol_dir, tmp_path):
    from ftlab.data import insight

    rows = [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Arr! Ahoy! ⚓"}]},
            {"messages": [{"role": "user", "content": "word " * 100}, {"role": "assistant", "content": "Arr!"}]}]
    path = write(tmp_path, "i.jsonl", "\n".join(json.dumps(r) for r in rows))
    result = insight.analyse(path, str(smol_dir), max_length=64)
    assert result["truncated"] == 1 and result["longest"] > 100 and len(result["lengths"]) == 2
    marked = "".join(text for text, kind in result["example"] if kind == "loss")
    assert marked.startswith("Arr! Ahoy!") and "hi" not in marked and "\ufffd" not in marked
    cls = insight.analyse("sentiment", str(smol_dir), max_length=512)
    assert cls["labels"] == {"positive": 120, "negative": 120} and cls["truncated"] == 0 and cls["example"] == []


def test_size_and_row_caps(tmp_path):
    path = write(tmp_path, "big.csv", "text,label\n" + "".join(f"row {i},{i % 2}\n" for i in range(2000)))
    with pytest.raises(data.DataError, match=r"big.csv: the file is 0.0[0-9]+ MB; the limit is 0.01 MB \(data.max_file_mb\)"):
        data.load(path, max_mb=0.01)
    assert len(data.load(path, max_rows=50).rows) == 50
