from postmix.annotate import heuristics


def test_code_blocks_counts_fences_and_unclosed_block():
    assert heuristics.code_blocks("no code") == 0
    assert heuristics.code_blocks("```py\nx = 1\n```\ntext\n```\ny\n```") == 2
    assert heuristics.code_blocks("```py\nx = 1\n") == 1


def test_has_math_detects_latex_arithmetic_and_words():
    assert heuristics.has_math(r"The answer is \frac{1}{2}")
    assert heuristics.has_math("What is 12 * 7?")
    assert heuristics.has_math("Find the derivative of x^2")
    assert not heuristics.has_math("Tell me a story about a cat.")


def test_refusal_only_at_the_start_of_the_reply():
    assert heuristics.is_refusal("I'm sorry, but I can't help with that.")
    assert heuristics.is_refusal("As an AI language model, I cannot browse the web.")
    assert not heuristics.is_refusal("Sure! Here is the recipe.")
    assert not heuristics.is_refusal("x" * 400 + " I cannot help with that")


def test_repetition_is_zero_for_distinct_text_and_high_for_loops():
    assert heuristics.repetition("one two three four five") == 0.0
    assert heuristics.repetition("a b") == 0.0
    assert heuristics.repetition("the cat sat " * 50) > 0.9


def test_empty_and_truncated():
    assert heuristics.is_empty("  \n ")
    assert not heuristics.is_empty("Tope")
    assert not heuristics.is_truncated("Tope")
    assert not heuristics.is_truncated("")
    assert heuristics.is_truncated("word " * 60 + "and then the")
    assert not heuristics.is_truncated("word " * 60 + "the end.")
    assert heuristics.is_truncated("Here:\n```python\nprint(1)\n")
