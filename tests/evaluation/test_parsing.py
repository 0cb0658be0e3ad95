"""The answer parser on a table of tricky free-text outputs."""

import pytest

from preattentive.evaluation.parsing import normalise, parse_answer

YN = ("no", "yes")
NUM = ("2", "3", "4", "5", "6", "7", "8")
SHAPES = ("circle", "square", "red square")
SIDES = ("left", "right")

CASES = [
    # (output, choices, expected index, rule)
    ("yes", YN, 1, "exact"),
    ("  No.  ", YN, 0, "exact"),
    ("YES!", YN, 1, "exact"),
    ('"yes"', YN, 1, "exact"),
    ("Answer: no", YN, 0, "exact"),
    ("The answer is yes.", YN, 1, "exact"),
    ("Yes, the two dots are on the same curve.", YN, 1, "yes/no"),
    ("Nope", YN, 0, "yes/no"),
    ("yeah", YN, 1, "yes/no"),
    ("seven", NUM, 5, "exact"),
    ("Seven.", NUM, 5, "exact"),
    ("7", NUM, 5, "exact"),
    ("There are seven dots.", NUM, 5, "number"),
    ("I count 4 circles", NUM, 2, "number"),
    ("There are 3 circles and 2 squares", NUM, -1, "unparseable"),
    ("(B)", NUM, 1, "letter"),
    ("(b) three", NUM, 1, "letter"),
    ("B.", SIDES, 1, "letter"),
    ("A) left", SIDES, 0, "letter"),
    ("Option B", SIDES, 1, "letter"),
    ("answer: A", SIDES, 0, "letter"),
    ("(D)", SIDES, -1, "unparseable"),  # no fourth option
    ("a circle", SHAPES, 0, "mention"),  # "a" is an article here, not option A
    ("It is a red square.", SHAPES, 2, "mention"),  # "square" inside "red square" does not count
    ("It is a square.", SHAPES, 1, "mention"),
    ("It is not a circle, it is a square", SHAPES, 1, "mention"),  # the negated option is dropped
    ("It is not red.", ("red", "green"), -1, "unparseable"),  # only a negated mention -> refuse
    ("The target is on the left side", SIDES, 0, "mention"),
    ("left or right", SIDES, -1, "unparseable"),
    ("", YN, -1, "unparseable"),
    ("banana", SIDES, -1, "unparseable"),
    ("##o d.f red m", YN, -1, "unparseable"),  # an untrained tiny LLaVA's babble
    # numbers inside identifiers or code are not counts (issue 18: "...s[0]..." was scored as "zero")
    ("x = s[0] + y", ("0", "1", "2"), -1, "unparseable"),
    ("return s[0]", ("0", "1", "2"), -1, "unparseable"),
    ("var_1 x2 f(2) a=1 3.5 2nd", ("0", "1", "2", "3"), -1, "unparseable"),
    ("I count (3) circles.", NUM, 1, "number"),  # brackets around a standalone number are fine
    ("There are 4, I think", NUM, 2, "number"),
]


@pytest.mark.parametrize("text,choices,index,rule", CASES)
def test_parser_table(text, choices, index, rule):
    p = parse_answer(text, choices)
    assert (p.index, p.rule) == (index, rule), text


def test_normalise():
    assert normalise("  The answer is: Seven! ") == "7"
    assert normalise("TWO red dots") == "2 red dots"
