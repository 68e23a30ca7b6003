"""Writes concise_pairs.jsonl: preference pairs teaching a visible preference, a short direct answer (chosen) over
a long one (rejected).

The rejected reply is what SmolLM2-135M-Instruct itself answers (greedy, through its chat template): DPO learns
most from pairs whose rejected side the model would say (on-policy), and this model pads its answers with
explanations. Where its answer is already short, a rambling reply made from fillers takes its place. Seeded and
greedy: run it again on the same model and the file is the same. `python assets/samples/make_concise_pairs.py`
(about three minutes on a laptop CPU; `--templates` writes the rambling fillers alone, without the model)."""

from __future__ import annotations

import json
import random
from pathlib import Path

CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Italy": "Rome", "Spain": "Madrid", "Germany": "Berlin",
            "Canada": "Ottawa", "Egypt": "Cairo", "Kenya": "Nairobi", "Peru": "Lima", "Norway": "Oslo",
            "Greece": "Athens", "Ireland": "Dublin", "Portugal": "Lisbon", "Austria": "Vienna", "Poland": "Warsaw",
            "Chile": "Santiago", "Cuba": "Havana", "Thailand": "Bangkok", "Vietnam": "Hanoi", "Turkey": "Ankara",
            "Sweden": "Stockholm", "Finland": "Helsinki", "Denmark": "Copenhagen", "Hungary": "Budapest",
            "Argentina": "Buenos Aires", "Australia": "Canberra", "India": "New Delhi", "China": "Beijing",
            "Mexico": "Mexico City", "Brazil": "Brasília", "Russia": "Moscow", "Iran": "Tehran"}
OPPOSITES = {"hot": "cold", "tall": "short", "fast": "slow", "happy": "sad", "light": "dark", "early": "late",
             "open": "closed", "full": "empty", "strong": "weak", "rich": "poor", "loud": "quiet", "hard": "soft",
             "wet": "dry", "old": "young", "thick": "thin", "heavy": "light", "cheap": "expensive", "near": "far",
             "clean": "dirty", "sharp": "dull", "brave": "cowardly", "wide": "narrow", "deep": "shallow"}
COLOURS = {"a ripe banana": "yellow", "grass": "green", "a clear daytime sky": "blue", "snow": "white",
           "coal": "black", "a ripe tomato": "red", "an orange": "orange", "a flamingo": "pink",
           "a ripe aubergine": "purple", "chocolate": "brown", "a lemon": "yellow", "a lime": "green"}
FACTS = [("How many legs does a spider have?", "Eight."), ("How many days are in a week?", "Seven."),
         ("What gas do plants take in from the air?", "Carbon dioxide."), ("What is frozen water called?", "Ice."),
         ("Which planet is closest to the Sun?", "Mercury."), ("What is the largest ocean?", "The Pacific."),
         ("How many continents are there?", "Seven."), ("What do bees make?", "Honey."),
         ("Which planet is known as the Red Planet?", "Mars."), ("How many hours are in a day?", "24."),
         ("What is the boiling point of water at sea level in Celsius?", "100 °C."),
         ("Who wrote Romeo and Juliet?", "William Shakespeare."), ("What is the chemical symbol for gold?", "Au."),
         ("How many sides does a hexagon have?", "Six."), ("What is the tallest mountain on Earth?", "Mount Everest."),
         ("What is the largest planet in the solar system?", "Jupiter."), ("How many minutes are in an hour?", "60."),
         ("What is the freezing point of water in Fahrenheit?", "32 °F."), ("What language is spoken in Brazil?",
                                                                              "Portuguese."),
         ("What is the longest river in Africa?", "The Nile."), ("How many strings does a standard guitar have?",
                                                                  "Six."),
         ("What is the main ingredient of guacamole?", "Avocado."), ("Which animal is known as the king of the "
                                                                    "jungle?", "The lion.")]
OPENERS = ["Great question! This is something a lot of people wonder about, so let me take a moment to explain it "
           "carefully and thoroughly.", "Oh, what an interesting thing to ask! There is actually quite a bit to say "
           "here, so bear with me while I walk through it.", "Thank you so much for asking this. Before I answer, "
           "I want to give a little context, because context always matters.",
           "That's a really thoughtful question, and I appreciate you bringing it up. Let me think about it step "
           "by step so that nothing is left out.", "Sure! I'd be delighted to help with that. It's one of those "
           "topics that seems simple at first but deserves a proper explanation."]
MIDDLES = ["After considering everything carefully, and weighing the different ways one might look at it, the answer "
           "is {answer}", "So, to put it plainly, and I do want to be as clear as possible here, the answer is "
           "{answer}", "Putting all of that together, and keeping in mind what you asked, it turns out that the "
           "answer is {answer}"]
CLOSERS = ["I hope this helps! Let me know if you have any other questions, I'm always happy to explain more.",
           "In summary, that is the answer. Of course, if anything is unclear, feel free to ask again and I can go "
           "into even more detail.", "I hope that clears things up! Questions like this are always fun to think "
           "about, so don't hesitate to ask more.", "And that's really all there is to it, although there is always "
           "more one could say. Please reach out if you'd like me to expand on any part of this."]


def questions() -> list[tuple[str, str]]:
    out = [(f"What is the capital of {c}?", f"{city}.") for c, city in CAPITALS.items()]
    out += [(f"Which city is the capital of {c}?", f"{city}.") for c, city in CAPITALS.items()]
    out += [(f"What is the opposite of '{w}'?", f"{o.capitalize()}.") for w, o in OPPOSITES.items()]
    out += [(f"Give the opposite of the word '{o}'.", f"{w.capitalize()}.") for w, o in OPPOSITES.items()
            if o not in OPPOSITES]
    out += [(f"What colour is {thing}?", f"{colour.capitalize()}.") for thing, colour in COLOURS.items()]
    out += FACTS
    rng = random.Random(7)
    for _ in range(110):
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        out.append((f"What is {a} times {b}?", f"{a * b}."))
    for _ in range(40):
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        out.append((f"What is {a} plus {b}?", f"{a + b}."))
    return list(dict.fromkeys(out))


def rambling(rng: random.Random, question: str, answer: str) -> str:
    restated = question.rstrip("?.").lower()
    return (f"{rng.choice(OPENERS)} You asked: {restated}. {rng.choice(MIDDLES).format(answer=answer.lower())} "
            f"{rng.choice(CLOSERS)}")


def model_answers(prompts: list[str], batch: int = 16, max_new_tokens: int = 64) -> list[str]:
    """SmolLM2's greedy answers to each prompt (the bundled model, through ftlab's loader and chat template)."""
    import sys

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

    from ftlab import modeling, tasks

    where = modeling.resolve(tasks.get("chat").default_model).path
    tok, model = modeling.load_tokenizer(where), modeling.load_model(where, "causal_lm").eval()
    tok.padding_side = "left"
    out = []
    for i in range(0, len(prompts), batch):
        texts = [tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
                 for p in prompts[i : i + batch]]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            ids = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
        out += [tok.decode(row[enc["input_ids"].shape[1]:], skip_special_tokens=True).strip() for row in ids]
        print(f"{len(out)} / {len(prompts)} answered", flush=True)
    return out


def main() -> None:
    import sys

    rng = random.Random(0)
    pairs = questions()
    answers = [""] * len(pairs) if "--templates" in sys.argv else model_answers([q for q, _ in pairs])
    rows = [{"prompt": q, "chosen": a,
             "rejected": said if len(said.split()) > len(a.split()) + 6 else rambling(rng, q, a)}
            for (q, a), said in zip(pairs, answers)]
    rng.shuffle(rows)
    out = Path(__file__).with_name("concise_pairs.jsonl")
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} pairs -> {out}")


if __name__ == "__main__":
    main()
