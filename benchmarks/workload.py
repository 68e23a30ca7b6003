"""The fixed training workloads of bench_train.py, written to benchmarks/data/ by `python benchmarks/workload.py`.

instructions.jsonl: 200 chats in OpenAI messages format (160 to train on, then 40 held out), a user request and
an assistant answer, with lengths spread the way real instruction sets are (many short, a long tail): a few
tokens to well past 512 in SmolLM2's tokenizer. The text is built from a seeded random generator over a small
English phrase bank, so the file is the same on every machine.
reviews.csv: 400 labelled reviews (positive / negative / neutral) of 10 to 200 words, for classification.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data"

SUBJECTS = ["the harbour master", "our new intern", "the weather service", "a small bakery", "the city council",
            "the research team", "my neighbour", "the night train", "a river pilot", "the school library",
            "the support desk", "an old lighthouse", "the hiking club", "the print shop", "a local farmer"]
VERBS = ["reported", "explained", "decided", "noticed", "argued", "announced", "discovered", "suggested",
         "confirmed", "described", "asked", "measured", "planned", "remembered", "questioned"]
OBJECTS = ["that the schedule would change next week", "how the tides affect the morning deliveries",
           "why the budget needs a second review", "the steps to repair a leaking pipe",
           "a simple way to store fresh herbs", "the results of last month's survey",
           "what to pack for a three day walk", "the history of the old stone bridge",
           "how to write a clear complaint letter", "the safest route through the hills",
           "a recipe that uses only five ingredients", "the reasons the meeting was moved",
           "how many visitors came in the summer", "the rules for borrowing rare books",
           "what happens when the river floods"]
TAILS = ["", " in great detail", " to everyone who would listen", " before lunch", " with a few examples",
         " after a long discussion", " in plain words", " for the second time"]
REQUESTS = ["Summarize this note", "Rewrite this in a friendly tone", "List the main points of this text",
            "Explain this to a child", "Turn this into a short email", "What is the key decision here",
            "Translate this into simpler English", "Write three questions about this"]
SHORT = ["Hi!", "Thanks.", "What time is it in Tokyo?", "Name a prime number.", "Say hello in French.",
         "Is water wet?", "Give me a synonym for fast.", "2 + 2?"]


def sentence(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(TAILS)}."


def paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(sentence(rng) for _ in range(sentences))


def chat(rng: random.Random) -> dict:
    """One chat; its size in sentences is drawn from a long-tailed distribution (median ~6, up to ~90)."""
    size = min(90, int(rng.lognormvariate(1.6, 1.0)))
    if size == 0:
        user, answer = rng.choice(SHORT), paragraph(rng, 1)
    else:
        user = f"{rng.choice(REQUESTS)}:\n\n{paragraph(rng, size)}"
        answer = paragraph(rng, max(1, size // 2))
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]}


def review(rng: random.Random) -> dict:
    label = rng.choice(["positive", "negative", "neutral"])
    mood = {"positive": ["Wonderful service.", "I loved it.", "Great value and kind staff."],
            "negative": ["Cold food and rude staff.", "A waste of money.", "I will not come back."],
            "neutral": ["It was fine.", "Nothing special either way.", "Average, as expected."]}[label]
    words = [paragraph(rng, 1) for _ in range(rng.randint(1, 12))]
    words.insert(rng.randint(0, len(words)), rng.choice(mood))
    return {"text": " ".join(words), "label": label}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    rng = random.Random(2026)
    with open(OUT / "instructions.jsonl", "w", encoding="utf-8") as f:
        for _ in range(200):
            f.write(json.dumps(chat(rng), ensure_ascii=False) + "\n")
    with open(OUT / "reviews.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(review(rng) for _ in range(400))


if __name__ == "__main__":
    main()
