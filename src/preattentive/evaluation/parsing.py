"""Free-text answers -> choice index: the documented, tested parser behind the generative method.

Rules, applied in order to the model's raw output (the first rule that decides wins):

1. **exact** — the whole answer, lower-cased with surrounding punctuation, quotes and a leading
   "answer:" / "the answer is" stripped, equals one option (number words normalised: "seven" == "7").
2. **letter** — an option letter: ``(B)``, ``(b)``, ``B.``, ``B)``, ``B:``, a bare ``B``, ``option B``,
   ``answer: B``. Bare and dotted letters must be upper case ("a circle" is an article, not option A).
3. **yes/no** — when the options include "yes" and "no": the first word is a yes-variant (yes, yeah, yep, yup,
   true, correct, affirmative, sure) or a no-variant (no, nope, nah, false, incorrect, negative).
4. **number** — the options are numbers: the answer mentions exactly one distinct option number, as digits or as
   a number word ("There are seven." -> "7"); two different numbers are ambiguous. A number counts only as a word
   of its own (whitespace-delimited, sentence punctuation and brackets around it allowed: "(3)", "3."), never
   inside an identifier or code (``s[0]``, ``x0``, ``f(1)``, ``a=2``, ``3.5``, ``2nd``).
5. **mention** — exactly one option occurs in the answer as a whole word or phrase (an option that is part of a
   longer mentioned option, e.g. "square" inside "red square", does not count) and is not negated
   ("not red", "no red"); otherwise ambiguous.
6. **unparseable** — index -1; the evaluation counts it wrong and logs it.

Example
-------
>>> parse_answer("(B) seven", ["6", "7", "8"])
Parsed(index=1, rule='letter')
>>> parse_answer("There are seven dots.", ["6", "7", "8"])
Parsed(index=1, rule='number')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

NUMBER_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                "sixteen seventeen eighteen nineteen twenty").split()
_WORD_TO_DIGIT = {w: str(i) for i, w in enumerate(NUMBER_WORDS)}
YES = frozenset("yes yeah yep yup true correct affirmative sure".split())
NO = frozenset("no nope nah false incorrect negative".split())
_PREFIX = re.compile(r"^(?:the\s+)?(?:final\s+)?(?:correct\s+)?(?:answer|option|choice)\s*(?:is|:|-)?\s*",
                     re.IGNORECASE)
_STRIP = " \t\n\r.,;:!?\"'`*()[]{}<>"
_NEGATION = re.compile(r"\b(?:not|no|isn't|aren't|never)\s+(?:a\s+|an\s+|the\s+)?$")


@dataclass(frozen=True)
class Parsed:
    """The chosen option index (-1 = unparseable) and the rule that decided it."""

    index: int
    rule: str  # "exact" | "letter" | "yes/no" | "number" | "mention" | "unparseable"


def normalise(text: str) -> str:
    """Lower-case, collapse whitespace, number words -> digits, strip surrounding punctuation and answer prefixes."""
    t = " ".join(str(text).lower().split())
    t = t.strip(_STRIP)
    t = _PREFIX.sub("", t).strip(_STRIP)
    return " ".join(_WORD_TO_DIGIT.get(w, w) for w in t.split())


_SENTENCE = " \t\n\r.,;:!?\"'`*"  # punctuation that may end or surround a standalone number


def _bare(token: str) -> str:
    """A whitespace token as a standalone number (``"3."``, ``"(3)"``, ``"'3'"`` -> ``"3"``), else ``""``.

    Surrounding sentence punctuation and one pair of enclosing brackets are allowed; anything else in the token
    (letters, ``[``, ``=``, a decimal point between digits) makes it code or an identifier, not a count.
    """
    t = token.strip(_SENTENCE)
    if len(t) >= 2 and (t[0], t[-1]) in (("(", ")"), ("[", "]")):
        t = t[1:-1].strip(_SENTENCE)
    return t if t.isdigit() else ""


def _letter(text: str, n: int) -> int | None:
    t = _PREFIX.sub("", text.strip()).strip()
    m = (re.match(r"^\(([A-Za-z])\)", t)  # (B) or (b)
         or re.match(r"^([A-Z])(?:[.):]|$|\s*$)", t)  # B. B) B: B
         or re.match(r"^(?:option|choice)\s+\(?([A-Za-z])\)?\b", t, re.IGNORECASE))
    if m:
        k = ord(m.group(1).upper()) - ord("A")
        if 0 <= k < n:
            return k
    return None


def _mentions(text: str, options: Sequence[str]) -> list[int]:
    """Indices of options occurring in ``text`` as whole words/phrases, not negated."""
    hits: list[tuple[int, int, int]] = []  # (option, start, end)
    for k, opt in enumerate(options):
        if not opt:
            continue
        for m in re.finditer(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", text):
            hits.append((k, m.start(), m.end()))
    # a hit lying inside a longer hit of another option ("square" inside "red square") does not count
    kept = [h for h in hits if not any(o != h and o[0] != h[0] and o[1] <= h[1] and h[2] <= o[2]
                                       and (o[2] - o[1]) > (h[2] - h[1]) for o in hits)]
    found = {k for k, s, _ in kept if not _NEGATION.search(text[:s])}
    negated = {k for k, s, _ in kept if _NEGATION.search(text[:s])}
    return sorted(found) if not (found & negated) else []


def parse_answer(text: str, choices: Sequence[str]) -> Parsed:
    """Map a model's free-text ``text`` to an index into ``choices`` (-1 when unparseable); rules in the module doc.

    Example
    -------
    >>> parse_answer("Yes, it is.", ["no", "yes"]).index
    1
    """
    options = [normalise(c) for c in choices]
    t = normalise(text)
    if t and t in options and options.count(t) == 1:
        return Parsed(options.index(t), "exact")
    k = _letter(str(text), len(choices))
    if k is not None:
        return Parsed(k, "letter")
    words = t.split()
    if words and "yes" in options and "no" in options:
        first = words[0].strip(_STRIP)
        if first in YES:
            return Parsed(options.index("yes"), "yes/no")
        if first in NO:
            return Parsed(options.index("no"), "yes/no")
    if options and all(o.isdigit() for o in options):
        nums = {w for w in (_bare(tok) for tok in t.split()) if w}
        hit = sorted({k for k, o in enumerate(options) if o in nums})
        if len(hit) == 1:
            return Parsed(hit[0], "number")
        return Parsed(-1, "unparseable")
    hit = _mentions(t, options)
    if len(hit) == 1:
        return Parsed(hit[0], "mention")
    return Parsed(-1, "unparseable")
