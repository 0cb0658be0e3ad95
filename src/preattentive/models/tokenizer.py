"""A small word-level tokenizer built locally with the ``tokenizers`` library (no hub download).

Tiny CLIP and LLaVA models trained here speak a closed vocabulary (the words of stimulus captions, questions and
answers), so one token per word keeps sequences short and answers single tokens. Words outside the vocabulary
fall back to characters (WordPiece ``##`` continuation pieces), so no input ever becomes all ``<unk>``.

Special tokens have fixed ids: ``<pad>`` 0, ``<unk>`` 1, ``<bos>`` 2, ``<eos>`` 3, ``<image>`` 4. Note that CLIP's
text pooling has a legacy branch for ``eos_token_id == 2`` (argmax of the ids); our EOS is 3, so the model pools
at the first EOS, which the tokenizer appends (``append_eos=True``).
"""

from __future__ import annotations

import string
from typing import Iterable

PAD, UNK, BOS, EOS, IMAGE = "<pad>", "<unk>", "<bos>", "<eos>", "<image>"
SPECIAL_TOKENS = (PAD, UNK, BOS, EOS, IMAGE)  # ids 0..4, in this order
_CHARS = string.ascii_lowercase + string.digits  # character fallback for words outside the vocabulary


def words_of(texts: Iterable[str]) -> list[str]:
    """The distinct words (lower-cased, punctuation split off) of ``texts``, in first-seen order.

    Example
    -------
    >>> words_of(["A red circle.", "a blue square"])
    ['a', 'red', 'circle', '.', 'blue', 'square']
    """
    from tokenizers import normalizers, pre_tokenizers

    norm, pre = normalizers.Lowercase(), pre_tokenizers.Whitespace()
    seen: dict[str, None] = {}
    for text in texts:
        for word, _ in pre.pre_tokenize_str(norm.normalize_str(text)):
            seen.setdefault(word, None)
    return list(seen)


def build_tokenizer(texts: Iterable[str], *, append_eos: bool, model_max_length: int = 64):
    """A ``PreTrainedTokenizerFast`` whose vocabulary is the words of ``texts`` plus a character fallback.

    Parameters
    ----------
    texts : sentences (or single words) whose words form the vocabulary.
    append_eos : True for a CLIP text tower (``<bos> text <eos>``: CLIP pools at the first EOS); False for a
        causal LM prompt (``<bos> text``), where EOS ends the answer instead.
    model_max_length : longest sequence in tokens (CLIP's ``max_position_embeddings``).

    Example
    -------
    >>> tok = build_tokenizer(["a red circle"], append_eos=True)
    >>> tok("a red circle")["input_ids"][0], tok("a red circle")["input_ids"][-1]
    (2, 3)
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab: dict[str, int] = {t: i for i, t in enumerate(SPECIAL_TOKENS)}
    for w in [*words_of(texts), *_CHARS, *("##" + c for c in _CHARS)]:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordPiece(vocab, unk_token=UNK, max_input_chars_per_word=64))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    single = f"{BOS} $A {EOS}" if append_eos else f"{BOS} $A"
    tok.post_processor = processors.TemplateProcessing(
        single=single, special_tokens=[(BOS, vocab[BOS]), (EOS, vocab[EOS])])
    tok.add_special_tokens(list(SPECIAL_TOKENS))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=EOS, unk_token=UNK, pad_token=PAD,
        model_max_length=model_max_length, extra_special_tokens={"image_token": IMAGE},
        closed_vocabulary=True)  # saved in tokenizer_config.json: evaluation.applicability reads it
