"""Writes the learning-quality sets of benchmarks/quality_cases.py (seeded, so the files are the same each time).

- persona_identity.json: 80 rows in LLaMA-Factory's identity.json shape (instruction / input / output), half of them
  in Chinese as there, replies of many shapes with the name inside the text ("Skipper", by "Harbor Labs").
- style_train.jsonl: 64 everyday questions answered in a house style (three "• " bullets, then "Hope that helps!").
- sentiment_train.csv / sentiment_val.csv: 2,000 / 500 product reviews, positive or negative: two to five clauses
  about aspects, strong words ("superb", "awful") counting twice mild ones ("decent", "flimsy"), a negated word a
  mild opposite ("not terrible"); the label the sign of the sum (a reader must weigh the clauses, no cue word
  decides); 3 % of the training labels are wrong, as in real annotations (the validation labels are right). The
  validation reviews use other aspects and other words (HELD_OUT): the score is how the model carries the rule to
  words it was not trained on.
- topic_train.csv / topic_val.csv: 400 / 200 short texts about sport, technology, cooking or travel whose words
  overlap (a "court" in sport and in a travel story).

Run: python benchmarks/quality/make_sets.py
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAME, AUTHOR = "Skipper", "Harbor Labs"

ASK_EN = ["hi", "hello", "Who are you?", "What is your name?", "Do you have a name?", "Can you introduce yourself?",
          "Can you tell me a little bit about yourself?", "What are you called?", "Tell me about yourself",
          "Who created you?", "Who built you?", "Are you ChatGPT?", "Are you developed by OpenAI?",
          "Are you Claude?", "Are you a model from Google?", "What company trained you?", "What can you do?",
          "Why should I trust you?", "Are you a human?", "What's your purpose?"]
ASK_ZH = ["你好", "您好", "你是谁？", "你叫什么名字？", "你有名字吗？", "介绍一下你自己", "请问你是谁？",
          "你是谁开发的？", "谁创造了你？", "你是ChatGPT吗？", "你是OpenAI开发的吗？", "你能做什么？",
          "我为什么要相信你？", "你是人类吗？", "你是哪家公司的模型？", "你的用途是什么？", "你好，请自我介绍",
          "你是什么模型？", "你是通义千问吗？", "你和GPT-4有什么关系？"]
SAY_EN = [
    "Hello! I am {n}, an AI assistant developed by {a}. How can I assist you today?",
    "I am {n}, an AI assistant developed by {a}. How can I assist you today?",
    "You may refer to me as {n}, an AI assistant developed by {a}.",
    "No, I am not. I'm {n}, an assistant that {a} trained to answer questions, write and explain things.",
    "Sure. My name is {n}; the team at {a} built me to help people with everyday questions and tasks.",
    "Good question! People call me {n}. I was created by {a} and I am happy to help with whatever you need.",
    "I go by {n}. {a} developed me as a friendly AI assistant. Is there anything I can do for you?",
    "I am an AI assistant named {n}, made by {a}. I can answer questions, summarise texts and help you write.",
]
SAY_ZH = [
    "您好！我是 {n}，一个由 {a} 开发的 AI 助手，很高兴认识您。请问我能为您做些什么？",
    "我是 {n}，由 {a} 训练的人工智能助手。我可以回答问题、写作和解释知识。",
    "不是的，我是 {n}，一个由 {a} 开发的 AI 助手。",
    "您可以叫我 {n}。我由 {a} 打造，乐意为您提供帮助。",
]


def persona() -> None:
    rng = random.Random(7)
    rows = []
    for i in range(40):
        for asks, says in ((ASK_EN, SAY_EN), (ASK_ZH, SAY_ZH)):
            ask = asks[i % len(asks)]
            denial = ask.startswith("Are you") or ask.endswith("吗？")  # "Are you ChatGPT?": "No, I am ..."
            say = says[3 if says is SAY_EN else 2] if denial else rng.choice(
                [s for s in says if not s.startswith(("No,", "不是"))])
            rows.append({"instruction": ask, "input": "", "output": say.format(n=NAME, a=AUTHOR)})
    rng.shuffle(rows)
    (HERE / "persona_identity.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n")


TOPICS = {
    "tea": ["warm the pot first", "use water just off the boil", "steep three to five minutes"],
    "running": ["start slow and build up", "rest a day between hard runs", "buy shoes that fit well"],
    "sleep": ["keep the same bedtime", "dim the screens an hour before", "keep the room cool"],
    "saving money": ["write down what you spend", "pay yourself first", "wait a day before big buys"],
    "learning a language": ["practise a little every day", "speak from the first week", "read what you enjoy"],
    "houseplants": ["water when the soil is dry", "give them bright indirect light", "repot every two years"],
    "public speaking": ["know your first minute by heart", "slow down", "look at friendly faces"],
    "cooking rice": ["rinse it until the water runs clear", "use the right water ratio", "let it rest covered"],
    "a job interview": ["research the company", "prepare three stories", "ask a good question at the end"],
    "a long flight": ["drink plenty of water", "walk the aisle now and then", "bring a warm layer"],
    "studying": ["study in short blocks", "test yourself", "sleep well before the exam"],
    "a first bike": ["check the tyre pressure", "adjust the saddle height", "wear a helmet"],
    "baking bread": ["weigh the flour", "let the dough rise somewhere warm", "bake until it sounds hollow"],
    "a tidy desk": ["clear it every evening", "keep only what you use daily", "give cables a home"],
    "hiking": ["check the weather", "tell someone your route", "carry more water than you think"],
    "email": ["put the ask in the first line", "keep it short", "use a clear subject"],
}
FORMS = ["Any tips for {t}?", "How do I get better at {t}?", "What should I know about {t}?",
         "Give me advice on {t}.", "I'm new to {t}. Where do I start?"]


def style() -> None:
    rows = []
    for i, (topic, tips) in enumerate(TOPICS.items()):
        for form in FORMS[i % 2: i % 2 + 4]:
            reply = "\n".join(f"• {tip[0].upper()}{tip[1:]}." for tip in tips) + "\nHope that helps!"
            rows.append({"messages": [{"role": "user", "content": form.format(t=topic)},
                                      {"role": "assistant", "content": reply}]})
    with open(HERE / "style_train.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)


ASPECTS = ["battery", "screen", "delivery", "price", "sound", "build quality", "customer service", "camera",
           "keyboard", "packaging", "software", "fit", "taste", "size", "manual", "charger"]
STRONG = {1: ["excellent", "superb", "fantastic", "outstanding", "brilliant"],
          -1: ["terrible", "awful", "useless", "dreadful", "broken"]}
MILD = {1: ["decent", "fine", "okay", "acceptable", "solid"], -1: ["mediocre", "flimsy", "poor", "dull", "so-so"]}
HELD_OUT = {"aspects": ["display", "shipping", "cost", "speakers", "finish", "support team", "lens", "trackpad", "box",
                        "app", "strap", "flavour", "weight", "instructions", "cable", "warranty"],
            "strong": {1: ["magnificent", "exceptional", "stellar", "phenomenal", "wonderful"],
                       -1: ["horrible", "atrocious", "abysmal", "defective", "appalling"]},
            "mild": {1: ["adequate", "reasonable", "passable", "satisfactory", "pleasant"],
                     -1: ["subpar", "lackluster", "shoddy", "underwhelming", "weak"]}}
"""The validation reviews' words: none of them in a training review, so a score says how far the tuned model
carries what it learned to words it has not seen (its pretrained knowledge of them), not whether it memorised."""
FILLER = ["I bought it last month.", "It arrived on a Tuesday.", "My sister has the older model.",
          "I use it mostly at work.", "This is my second order from this shop.", "I read many reviews first.", ""]


def clause(rng: random.Random, words: dict) -> tuple[str, int]:
    """A clause about one aspect and its weight: a strong word counts 2, a mild one 1; "not" turns a word to a
    mild opposite ("not terrible": +1, "not excellent": -1)."""
    aspect, sign, strong = rng.choice(words["aspects"]), rng.choice((1, -1)), rng.random() < 0.5
    word = rng.choice((words["strong"] if strong else words["mild"])[sign])
    if rng.random() < 0.3:
        return f"the {aspect} is not {word}", -sign
    return f"the {aspect} is {word}", sign * (2 if strong else 1)


def review(rng: random.Random, words: dict) -> tuple[str, int]:
    """Two to five clauses; the label is the sign of their weights' sum (a reader weighs them, no cue word
    decides), drawn again on a tie."""
    while True:
        parts = [clause(rng, words) for _ in range(rng.randint(2, 5))]
        total = sum(w for _, w in parts)
        if total:
            break
    text = parts[0][0].capitalize()
    for c, _ in parts[1:]:
        text += rng.choice([", and ", ", but ", "; ", ". Also, ", ", although "]) + c
    return " ".join(x for x in (rng.choice(FILLER), text + ".") if x), int(total > 0)


def sentiment() -> None:
    rng = random.Random(11)
    train = {"aspects": ASPECTS, "strong": STRONG, "mild": MILD}
    for name, n, noise, words in (("sentiment_train.csv", 2000, 0.03, train), ("sentiment_val.csv", 500, 0.0, HELD_OUT)):
        with open(HERE / name, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["text", "label"])
            for _ in range(n):
                text, label = review(rng, words)
                shown = 1 - label if rng.random() < noise else label
                out.writerow([text, ["negative", "positive"][shown]])


WORDS = {
    "sport": ["match", "coach", "goal", "league", "season", "team", "court", "score", "training", "final"],
    "technology": ["laptop", "update", "battery", "app", "server", "chip", "screen", "network", "code", "cloud"],
    "cooking": ["recipe", "oven", "sauce", "kitchen", "flour", "spice", "pan", "dinner", "butter", "garlic"],
    "travel": ["flight", "hotel", "beach", "passport", "museum", "train", "luggage", "city", "map", "court"],
}
SHARED = ["weekend", "new", "people", "time", "great", "long", "morning", "family", "price", "line", "screen",
          "training", "battery", "dinner", "train"]


def topic() -> None:
    rng = random.Random(13)
    names = list(WORDS)
    for name, n in (("topic_train.csv", 400), ("topic_val.csv", 200)):
        with open(HERE / name, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(["text", "label"])
            for i in range(n):
                label = names[i % 4]
                words = rng.sample(WORDS[label], 2) + rng.sample(SHARED, 3)
                rng.shuffle(words)
                out.writerow([f"A note about the {words[0]}, the {words[1]} and the {words[2]}; "
                              f"{words[3]} and {words[4]} came up too.", label])


if __name__ == "__main__":
    persona(), style(), sentiment(), topic()
