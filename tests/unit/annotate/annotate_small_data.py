"""Small labelled data for trainer and annotator tests, generated from templates with a seeded generator."""

from __future__ import annotations

import numpy as np

LANGS = ["python", "java", "rust", "go", "c++", "javascript"]
OPS = ["sorts", "reverses", "deduplicates", "parses", "merges", "filters"]
THINGS = ["a list", "a string", "a linked list", "a json file", "two arrays", "a csv table"]
FORMS = ["poem", "short story", "song", "haiku", "fable", "limerick"]
TOPICS = ["the sea", "autumn leaves", "a lonely robot", "a dragon", "the moon", "an old city"]


def _user(text: str, answer: str = "ok") -> list[dict]:
    return [{"role": "user", "content": text}, {"role": "assistant", "content": answer}]


def task_rows(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            text = f"Write a {rng.choice(LANGS)} function that {rng.choice(OPS)} {rng.choice(THINGS)} (case {i})."
            label = "Coding & Debugging"
        elif kind == 1:
            text = f"Compose a {rng.choice(FORMS)} about {rng.choice(TOPICS)}, please ({i})."
            label = "Creative writing"
        else:
            text = f"What is {rng.integers(2, 999)} plus {rng.integers(2, 999)}? Solve it step {i}."
            label = "Math"
        rows.append({"messages": _user(text), "label": label, "supervision": "human" if i % 5 else "rule"})
    return rows


def quality_rows(n: int, seed: int = 0) -> list[dict]:
    """Good answers restate the topic and explain; bad answers dodge. Each prompt has one good and one bad reply."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n // 2):
        topic = f"{rng.choice(TOPICS)} number {i}"
        prompt = f"Explain {topic} in detail."
        good = (f"Here is a clear explanation of {topic}. First, it has a history. Second, it matters because "
                f"people care about it. Finally, a summary: {topic} is interesting.")
        bad = rng.choice(["I don't know.", "No.", "Maybe ask someone else.", "whatever"])
        rows.append({"messages": _user(prompt, good), "label": 1.0, "group": f"p{i}"})
        rows.append({"messages": _user(prompt, str(bad)), "label": 0.0, "group": f"p{i}"})
    return rows
