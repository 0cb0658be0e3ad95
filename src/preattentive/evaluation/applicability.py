"""Can a model even be asked a family's question? Prompt words a closed-vocabulary text encoder never saw.

A condition the model cannot be asked is "not applicable", not "chance" (CONVENTIONS.md, science habits): the
tiny CLIP and LLaVA trained here read a closed word vocabulary (the words of ``scenes`` captions and questions;
:func:`preattentive.models.tokenizer.build_tokenizer`). A word outside it is spelled out in character pieces the
model never learned, so a zero-shot prompt or a question that contains one measures nothing. Open-vocabulary
tokenizers (BPE, SentencePiece — every hub checkpoint) can encode any word the model's pretraining may have
seen, so they are always applicable.
"""

from __future__ import annotations

from typing import Any, Iterable

from preattentive.models.tokenizer import SPECIAL_TOKENS, words_of


def closed_vocabulary(tokenizer: Any) -> bool:
    """True for the project's word-level tokenizer (marked ``closed_vocabulary`` when built; older saved ones are
    recognised by their WordPiece vocabulary holding the project's special tokens)."""
    if tokenizer is None:
        return False
    marked = getattr(tokenizer, "init_kwargs", {}).get("closed_vocabulary")
    if marked is not None:
        return bool(marked)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or type(backend.model).__name__ != "WordPiece":
        return False
    vocab = tokenizer.get_vocab()
    return all(t in vocab for t in SPECIAL_TOKENS)


def unknown_words(tokenizer: Any, texts: Iterable[str]) -> list[str]:
    """The words of ``texts`` (lower-cased, punctuation split off and ignored) outside a closed vocabulary, in
    first-seen order; always ``[]`` for open-vocabulary tokenizers.

    Example
    -------
    >>> from preattentive.models.tokenizer import build_tokenizer
    >>> tok = build_tokenizer(["a red circle"], append_eos=True)
    >>> unknown_words(tok, ["a red square", "a circle"])
    ['square']
    """
    if not closed_vocabulary(tokenizer):
        return []
    vocab = tokenizer.get_vocab()
    # punctuation is not a word: a prompt ending in "." asks nothing the encoder cannot read
    return [w for w in words_of(texts) if w not in vocab and any(ch.isalnum() for ch in w)]


def applicability(tokenizer: Any, texts: Iterable[str], *, what: str = "prompt") -> tuple[bool, str]:
    """``(applicable, reason)`` for asking a model with ``tokenizer`` these ``texts`` (prompts or questions).

    Example
    -------
    >>> from preattentive.models.tokenizer import build_tokenizer
    >>> applicability(build_tokenizer(["a red circle"], append_eos=True), ["a blue circle"])
    (False, "not applicable: prompt words unknown to the text encoder ('blue')")
    """
    missing = unknown_words(tokenizer, texts)
    if not missing:
        return True, ""
    shown = ", ".join(repr(w) for w in missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
    return False, f"not applicable: {what} words unknown to the text encoder ({shown})"
