"""The default task vocabulary (Magpie's 12 categories), how our human labels map onto it, and the labelling rules
for prompts without a human label. docs/ANNOTATE.md has the same table with the reasons."""

from __future__ import annotations

import re
from typing import Optional

# The one declaration of the default vocabulary. Stages downstream of annotate never read it: the label space takes
# the tasks annotate wrote, so a user task model's own labels work everywhere.
MAGPIE_CATEGORIES = (
    "Information seeking", "Reasoning", "Planning", "Editing", "Coding & Debugging", "Math", "Role playing",
    "Data analysis", "Creative writing", "Advice seeking", "Brainstorming", "Others",
)

# Human labels (dataset -> its label -> Magpie category). Labels not listed are not used for training.
HUMAN_LABEL_MAP = {
    "dolly15k": {  # meta.category, written by the Databricks authors of each record
        "open_qa": "Information seeking", "general_qa": "Information seeking", "closed_qa": "Information seeking",
        "classification": "Reasoning", "information_extraction": "Data analysis", "summarization": "Editing",
        "brainstorming": "Brainstorming", "creative_writing": "Creative writing",
    },
    "gpteacher": {"codegen": "Coding & Debugging", "roleplay": "Role playing"},  # meta.subset
    "code_alpaca_2k": {"*": "Coding & Debugging"},  # the whole dataset is coding
    "t0_p3_50k": {  # meta.t0_task_cluster (the human-defined T0 task taxonomy)
        "extractive_qa": "Information seeking", "closed_book_qa": "Information seeking",
        "multiple_choice_qa": "Information seeking", "summarization": "Editing",
        "paraphrase_identification": "Reasoning", "sentiment": "Data analysis",
        "topic_classification": "Data analysis", "structure_to_text": "Creative writing",
    },
}

# Rules, tried in this order on prompts that have no human label (first match wins; no match -> not used).
_RULES = (
    ("Math", re.compile(
        r"\b(solve|equation|integral|derivative|factorial|square root|sqrt|probability|percent(age)? of|"
        r"arithmetic|algebra|geometry|theorem|prime numbers?|polynomial|logarithm|calculate|compute|"
        r"what is \d[\d,.]*\s*(\+|-|\*|/|x|times|plus|minus|divided by|multiplied by)\s*\d)\b"
        r"|\d\s*[-+*/^×÷]\s*\d", re.IGNORECASE)),
    ("Planning", re.compile(
        r"\b(plan|planning|itinerary|schedule|agenda|roadmap|timeline|checklist|step-by-step guide|"
        r"strategy for|prepare for|organi[sz]e an?)\b", re.IGNORECASE)),
    ("Editing", re.compile(
        r"\b(rewrite|rephrase|paraphrase|proofread|edit (this|the|my)|correct the grammar|fix the grammar|"
        r"grammatical errors|make (this|it) (more|less)|shorten|translate)\b", re.IGNORECASE)),
    ("Advice seeking", re.compile(
        r"\b(should i|advice|any tips|tips (for|on)|what should i|how (can|do|should) i|recommend|"
        r"help me (decide|choose)|is it (ok|okay|wise|safe) (to|for me))\b", re.IGNORECASE)),
    ("Others", re.compile(r"^\W*(hi|hello|hey|thanks|thank you|good (morning|evening|night)|ok|okay|lol|yes|no)"
                          r"\b[\W\w]{0,20}$", re.IGNORECASE)),
)
RULE_SUPERVISED = tuple(category for category, _ in _RULES)


def rule_label(prompt: str) -> Optional[str]:
    """The category the first matching rule gives a prompt, or None."""
    for category, pattern in _RULES:
        if pattern.search(prompt):
            return category
    return None


def toolformer_request(instruction: str, tool_input: str) -> str:
    """The user's request inside a GPTeacher toolformer prompt: the line after the tool description block."""
    request = instruction.strip().split("\n")[-1]
    return f"{request}\n\n{tool_input}" if tool_input else request
