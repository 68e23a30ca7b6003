"""Formats: every file type round-trips, every format is detected with its reason, the user's override and column
mapping win, header-less CSVs and TXT files load, splits are stratified or come from a separate file."""

import csv
import gzip
import io
import json

import pandas as pd
import pytest

from ftlab import data
from ftlab.config import DataConfig

ROWS = [{"text": 'good, "very" good\nsecond line', "label": "pos"}, {"text": "café – thé 😀", "label": "neg"},
        {"text": "plain", "label": "pos"}]


def csv_text(rows, delimiter=","):
    out = io.StringIO()
    writer = csv.DictWriter(out, ["text", "label"], delimiter=delimiter, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


WRITERS = {
    "c.csv": lambda p: p.write_text(csv_text(ROWS), encoding="utf-8"),
    "c.tsv": lambda p: p.write_text(csv_text(ROWS, "\t"), encoding="utf-8"),
    "bom.csv": lambda p: p.write_bytes(b"\xef\xbb\xbf" + csv_text(ROWS).encode()),
    "u16.csv": lambda p: p.write_bytes(csv_text(ROWS).encode("utf-16")),
    "c.jsonl": lambda p: p.write_text("\n".join(json.dumps(r) for r in ROWS)),
    "c.json": lambda p: p.write_text(json.dumps(ROWS, indent=2)),
    "held.json": lambda p: p.write_text(json.dumps({"data": ROWS})),
    "c.parquet": lambda p: pd.DataFrame(ROWS).to_parquet(p),
    "c.csv.gz": lambda p: p.write_bytes(gzip.compress(csv_text(ROWS).encode())),
    "c.jsonl.gz": lambda p: p.write_bytes(gzip.compress("\n".join(json.dumps(r) for r in ROWS).encode())),
}


@pytest.mark.parametrize("name", WRITERS)
def test_every_file_type_round_trips(tmp_path, name):
    path = tmp_path / name
    WRITERS[name](path)
    ds = data.load(str(path))
    assert ds.format == "classification" and ds.rows == ROWS and ds.labels == ["neg", "pos"]


def write(tmp_path, name, text):
    (tmp_path / name).write_text(text, encoding="utf-8")
    return str(tmp_path / name)


def jsonl(rows):
    return "\n".join(json.dumps(r) for r in rows)


TURN = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Arr"}]
DETECTED = {
    "messages": {"messages": TURN},
    "sharegpt": {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Arr"}]},
    "alpaca": {"instruction": "Hi", "input": "", "output": "Arr"},
    "prompt_completion": {"prompt": "Hi", "completion": "Arr"},
    "sentence_pair": {"text": "a", "text_pair": "b", "label": "x"},
    "classification": {"text": "a", "label": "x"},
    "text": {"text": "Once upon a time."},
}


@pytest.mark.parametrize("fmt", DETECTED)
def test_each_format_is_detected_with_its_reason(tmp_path, fmt):
    rows = [DETECTED[fmt], {**DETECTED[fmt], "label": "y"} if "label" in DETECTED[fmt] else DETECTED[fmt]]
    ds = data.load(write(tmp_path, "d.jsonl", jsonl(rows)))
    assert ds.format == fmt and ds.reason
    assert ds.task == ("classify" if "label" in DETECTED[fmt] else "chat")


def test_ambiguous_file_follows_the_users_format(tmp_path):
    # alpaca exports often carry a pre-rendered `text` column too: alpaca is detected, the override wins
    rows = [{"instruction": "Add 2 and 3", "input": "", "output": "5", "text": "### Add 2 and 3\n5"}] * 2
    path = write(tmp_path, "a.jsonl", jsonl(rows))
    assert data.load(path).format == "alpaca"
    ds = data.load(path, fmt="text")
    assert ds.format == "text" and "chosen by you (detected: alpaca)" in ds.reason
    assert data.preview(ds)[0][0] == "### Add 2 and 3\n5"
    with pytest.raises(data.DataError, match="format sentence_pair needs `text_pair`, `label`"):
        data.load(path, fmt="sentence_pair")


def test_columns_with_other_names_are_mapped_and_the_users_mapping_wins(tmp_path):
    path = write(tmp_path, "r.csv", "review,sentiment,stars\ngreat,positive,5\nawful,negative,1\n")
    ds = data.load(path)
    assert ds.format == "classification" and ds.mapping == {"text": "review", "label": "sentiment"}
    assert "`review` → text" in ds.reason and ds.columns == ["review", "sentiment", "stars"]
    assert "not used: `stars`" in ds.reason
    ds = data.load(path, columns={"text": "review", "label": "stars"})
    assert ds.labels == ["1", "5"] and ds.rows[0]["label"] == "5"
    qa = data.load(write(tmp_path, "qa.jsonl", jsonl([{"question": "2+2?", "answer": "4"}])))
    assert qa.format == "prompt_completion" and data.to_messages(qa.format, qa.rows[0])[1]["content"] == "4"


def test_headerless_csv_with_the_label_in_any_position(tmp_path):
    first = data.load(write(tmp_path, "a.csv", "positive,Loved it\nnegative,Hated it\npositive,Fine film\n"))
    assert first.format == "classification" and first.mapping == {"label": "column_1", "text": "column_2"}
    assert first.rows[0] == {"label": "positive", "text": "Loved it"} and first.lines == [1, 2, 3]
    last = data.load(write(tmp_path, "b.tsv", "Loved it\t1\nHated it\t0\nFine\t1\n"))
    assert last.rows[1] == {"text": "Hated it", "label": "0"} and last.labels == ["0", "1"]
    assert "no header line" in last.reason


def test_sentence_pairs_from_common_column_names(tmp_path):
    path = write(tmp_path, "nli.csv", "premise,hypothesis,label\nA man sleeps,A person rests,entail\n"
                                      "A man sleeps,A man runs,contradict\n")
    ds = data.load(path)
    assert ds.format == "sentence_pair" and ds.rows[1]["text_pair"] == "A man runs"
    assert data.preview(ds)[0] == ["A man sleeps  ‖  A person rests", "entail"]


def test_txt_one_document_per_line_or_per_paragraph(tmp_path):
    lines = data.load(write(tmp_path, "l.txt", "First doc.\nSecond doc.\n"))
    assert lines.format == "text" and [r["text"] for r in lines.rows] == ["First doc.", "Second doc."]
    paras = data.load(write(tmp_path, "p.txt", "Para one\nstill one.\n\n\nPara two.\n"))
    assert [r["text"] for r in paras.rows] == ["Para one\nstill one.", "Para two."] and paras.lines == [1, 5]
    assert "blank lines" in paras.reason


def test_alpaca_history_becomes_earlier_turns(tmp_path):
    row = {"instruction": "And now?", "input": "", "output": "Done.", "system": "Be brief.",
           "history": [["Start", "Started."]]}
    ds = data.load(write(tmp_path, "h.json", json.dumps([row])))
    assert [(m["role"], m["content"]) for m in data.to_messages(ds.format, ds.rows[0])] == [
        ("system", "Be brief."), ("user", "Start"), ("assistant", "Started."), ("user", "And now?"),
        ("assistant", "Done.")]


def test_integer_labels_sort_as_numbers_and_integral_floats_count_as_whole(tmp_path):
    rows = [{"text": f"t{i}", "label": v} for i, v in enumerate([10, 2, 2.0, 1])]
    assert data.load(write(tmp_path, "n.jsonl", jsonl(rows))).labels == ["1", "2", "10"]


def test_stratified_split_keeps_every_class_within_one_row_of_exact():
    rows = [{"label": c} for c, n in (("a", 137), ("b", 41), ("c", 9), ("d", 3)) for _ in range(n)]
    for fraction in (0.1, 0.2, 0.33):
        train, val = data.split(rows, fraction, seed=7, key=lambda r: r["label"])
        assert len(train) + len(val) == len(rows)
        for label in "abcd":
            total = sum(r["label"] == label for r in rows)
            assert abs(sum(r["label"] == label for r in val) - fraction * total) <= 1


def test_a_separate_validation_file_replaces_the_fraction(tmp_path):
    train = write(tmp_path, "t.csv", "text,label\na,x\nb,y\nc,x\n")
    val = write(tmp_path, "v.csv", "text,label\nd,x\ne,y\n")
    splits = data.load_splits(DataConfig(path=train, val_path=val, val_fraction=0.5), seed=1)
    assert len(splits.train) == 3 and [r["text"] for r in splits.val] == ["d", "e"] and splits.val_source == "v.csv"
    bad = write(tmp_path, "w.csv", "text,label\nd,x\ne,z\n")
    with pytest.raises(data.DataError, match="w.csv: labels not in the training file: z"):
        data.load_splits(DataConfig(path=train, val_path=bad), seed=1)


def test_column_names_match_by_their_words_whatever_the_case(tmp_path):
    ds = data.load(write(tmp_path, "k.csv", "Review Text,Sentiment Label,Rating\nLoved it,pos,5\nAwful,neg,1\n"))
    assert ds.mapping == {"text": "Review Text", "label": "Sentiment Label"} and ds.labels == ["neg", "pos"]


def test_semicolon_csv_and_an_excel_tab_separated_txt_read_as_tables(tmp_path):
    semi = data.load(write(tmp_path, "s.csv", "text;label\nbon, très bon;pos\nmauvais;neg\n"))
    assert semi.rows[0] == {"text": "bon, très bon", "label": "pos"} and "semicolon-separated" in semi.reason
    (tmp_path / "export.txt").write_bytes("text\tlabel\ngood\tpos\nbad\tneg\n".encode("utf-16"))
    tabbed = data.load(str(tmp_path / "export.txt"))
    assert tabbed.format == "classification" and tabbed.rows[1] == {"text": "bad", "label": "neg"}


def test_one_column_mapped_to_two_fields_is_refused(tmp_path):
    path = write(tmp_path, "d.csv", "a,b\nx,y\nz,w\n")
    with pytest.raises(data.DataError, match=r"column 'a' is mapped to more than one field \(text, label\)"):
        data.load(path, columns={"text": "a", "label": "a"})


def test_the_data_check_refuses_a_validation_file_with_unknown_labels(tmp_path):
    from ftlab.app.lab import Lab

    train = write(tmp_path, "t.csv", "text,label\na,x\nb,y\n")
    info = Lab().inspect(train, val_path=write(tmp_path, "v.csv", "text,label\nc,x\nd,maybe\n"))
    assert not info["ok"] and "v.csv: labels not in the training file: maybe" in info["summary"]
