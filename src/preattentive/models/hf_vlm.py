"""Any Hugging Face image-text-to-text model (``AutoModelForImageTextToText``) behind one narrow interface.

LLaVA-1.5 / NeXT / OneVision, Qwen2-VL / Qwen2.5-VL, Idefics3 / SmolVLM, PaliGemma, Gemma 3 ... all take
``processor(images=, text=)`` and ``model.generate``; what differs is the *prompt format*, which :class:`Vlm`
resolves once, in this order, and reports in :attr:`Vlm.prompt_format`:

1. a question that contains ``{image}`` is a whole prompt written by the user (``--template``), used verbatim
   with the image placeholder in place of ``{image}``;
2. the processor's chat template (``chat_template.jinja`` / ``.json``: current hub snapshots);
3. the tokenizer's chat template (``tokenizer_config.json``: older snapshots);
4. a prompt format known for the ``model_type`` (:data:`KNOWN_FORMATS`: PaliGemma is a prefix LM without a chat
   template, asked ``"answer en {question}"`` as its model card says);
5. otherwise :class:`PromptFormatError` naming ``--template`` — never a silent guess (a llava-1.5
   ``USER: ... ASSISTANT:`` prompt given to a Mistral-based LLaVA-NeXT gives wrong answers, not an error).

:meth:`Vlm.generate` decodes greedily with left padding; :meth:`Vlm.score_choices` scores each answer choice's
tokens given the prompt (the choice-likelihood method); :meth:`Vlm.features` gives the language model's hidden
states over the image tokens, layer by layer, for linear probes.

Example
-------
>>> vlm = load_vlm("llava-hf/llava-1.5-7b-hf", dtype="bfloat16", device="cuda")  # doctest: +SKIP
>>> vlm.generate([image], ["What colour is the circle?"])  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from preattentive.models.vlm_common import (ProcessorModel, as_image_list, load_processor, locate, model_type_of,
                                            resolve_device, resolve_dtype)

IMAGE_SLOT = "{image}"  # in a user-written prompt: where the image goes
KNOWN_FORMATS = {"paligemma": "answer en {question}"}  # model_type -> prompt (the processor adds image + BOS)
# what a chat template writes for one image, where it is more than the processor's image token
_IMAGE_TEXT = {"qwen2_vl": "<|vision_start|><|image_pad|><|vision_end|>",
               "qwen2_5_vl": "<|vision_start|><|image_pad|><|vision_end|>"}
_NESTED_IMAGES = ("idefics3", "smolvlm", "idefics2", "mllama", "gemma3")  # processors wanting [[im], [im], ...]


class PromptFormatError(ValueError):
    """The model has no chat template and no known prompt format (one line, naming ``--template``)."""


class Vlm(ProcessorModel):
    """An image-text-to-text model with its processor; images are uint8 ``(H, W, 3)`` arrays, one per prompt."""

    @property
    def model_type(self) -> str:
        return str(self.model.config.model_type)

    @property
    def image_text(self) -> str:
        """The text that stands for one image in a prompt before the processor expands it."""
        return _IMAGE_TEXT.get(self.model_type) or str(getattr(self.processor, "image_token", "<image>"))

    # -- prompts -------------------------------------------------------------------------------
    def _template(self) -> tuple[str | None, str]:
        """(chat template, where it came from) or (None, known format / "")."""
        t = getattr(self.processor, "chat_template", None)
        if t:
            return t, "processor chat template"
        t = getattr(self.tokenizer, "chat_template", None)
        if t:
            return t, "tokenizer chat template"
        return None, ""

    @property
    def prompt_format(self) -> str:
        """Where prompts come from, e.g. ``"processor chat template sha1:1a2b3c4d"`` (the hash tells templates apart),
        ``"known format 'answer en {question}'"``; ``""`` when there is none (then only ``{image}`` prompts work)."""
        t, where = self._template()
        if t:
            return f"{where} sha1:{hashlib.sha1(t.encode()).hexdigest()[:8]}"
        if self.model_type in KNOWN_FORMATS:
            return f"known format {KNOWN_FORMATS[self.model_type]!r}"
        return ""

    def check_prompts(self, name: str = "") -> None:
        """Raise :class:`PromptFormatError` unless plain questions can be prompted (a template or known format)."""
        if not self.prompt_format:
            raise PromptFormatError(
                f"model {name or self.model_type!r} (model_type {self.model_type!r}) has no chat template (none in "
                f"the processor or the tokenizer) and no known prompt format; give the whole prompt with --template, "
                f"writing {{image}} where the image goes, e.g. --template 'USER: {{image}}\\n{{question}} ASSISTANT:'")

    def prompt(self, question: str) -> str:
        """The text prompt for one question about one image, ending where the answer starts (image unexpanded)."""
        if IMAGE_SLOT in question:
            return question.replace(IMAGE_SLOT, self.image_text)
        t, _ = self._template()
        if t:
            conversation = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
            # rendered by the tokenizer: text only (the processor's version also loads media; SmolVLM's reads
            # its video processor, absent on a CPU-only install)
            return self.tokenizer.apply_chat_template(conversation, chat_template=t, add_generation_prompt=True,
                                                      tokenize=False)
        if self.model_type in KNOWN_FORMATS:
            return KNOWN_FORMATS[self.model_type].format(question=question)
        self.check_prompts()
        raise AssertionError("unreachable")

    # -- inputs --------------------------------------------------------------------------------
    def encode(self, images: list[np.ndarray], prompts: list[str], padding_side: str) -> dict[str, Any]:
        """Processor outputs for one image per prompt (CPU tensors), padded on ``padding_side``."""
        ims: list[Any] = [[im] for im in images] if self.model_type in _NESTED_IMAGES else list(images)
        enc = self.processor(images=ims, text=list(prompts), padding=True, padding_side=padding_side,
                             return_tensors="pt")
        return dict(enc)

    def _to_device(self, enc: dict[str, Any]) -> dict[str, Any]:
        import torch

        out = {}
        for k, v in enc.items():
            if isinstance(v, torch.Tensor):
                v = v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device)
            out[k] = v
        return out

    # -- the interface -------------------------------------------------------------------------
    def generate(self, images: Any, questions: Sequence[str] | str, max_new_tokens: int = 16,
                 batch_size: int = 32) -> list[str]:
        """Greedy answers, one per (image, question) pair, batched with left padding.

        Example
        -------
        >>> vlm.generate([trial.image], [trial.question], max_new_tokens=8)  # doctest: +SKIP
        ['left']
        """
        import torch

        ims = as_image_list(images)
        qs = [questions] * len(ims) if isinstance(questions, str) else list(questions)
        if len(qs) != len(ims):
            raise ValueError(f"{len(ims)} images but {len(qs)} questions: expected one question per image")
        tok, out = self.tokenizer, []
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        for s in range(0, len(ims), batch_size):
            enc = self._to_device(self.encode(ims[s:s + batch_size], [self.prompt(q) for q in qs[s:s + batch_size]],
                                              "left"))
            with torch.no_grad():
                seq = self.model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad,
                                          eos_token_id=tok.eos_token_id)
            new = seq[:, enc["input_ids"].shape[1]:]  # (B, <= max_new_tokens)
            out += [t.strip() for t in tok.batch_decode(new, skip_special_tokens=True)]
        return out

    def score_choices(self, images: Any, questions: Sequence[str], choices: Sequence[Sequence[str]], *,
                      reduce: str = "mean", batch_size: int = 32) -> list[np.ndarray]:
        """Log-probability of each choice's tokens given the image and the prompt: one array per question.

        ``reduce="mean"``: the mean log-probability per choice token (a 3-token choice is not penalised for its
        length); ``"sum"``: the choice's joint log-probability. The choice follows the prompt after a space unless
        the prompt ends in whitespace (``"...assistant\\n"``), as the lm-evaluation-harness does; its EOS is not
        scored. Rows are padded on the *right*: under causal attention the padding after a row cannot change its
        scores and positions need no correction (Qwen2-VL's 3-D rotary positions included), so a choice gets the
        same score at any batch size.

        Example
        -------
        >>> vlm.score_choices([image], ["Is there a red dot?"], [["no", "yes"]])  # doctest: +SKIP
        [array([-2.31, -0.12])]
        """
        import torch

        if reduce not in ("mean", "sum"):
            raise ValueError(f"reduce={reduce!r}: expected 'mean' or 'sum'")
        ims = as_image_list(images)
        if not (len(ims) == len(questions) == len(choices)):
            raise ValueError(f"{len(ims)} images, {len(questions)} questions, {len(choices)} choice lists: "
                             "expected one of each per trial")
        prompts = [self.prompt(q) for q in questions]
        rows = [(i, c) for i, cs in enumerate(choices) for c in cs]  # one scored sequence per (trial, choice)
        scores: list[float] = []
        for s in range(0, len(rows), batch_size):
            chunk = rows[s:s + batch_size]
            enc = self.encode([ims[i] for i, _ in chunk], [prompts[i] for i, _ in chunk], "right")
            inputs, targets = self._append_choices(enc, [c for _, c in chunk])
            with torch.no_grad():
                logits = self.model(**self._to_device(inputs)).logits.float()  # (b, T, V)
            logp = torch.log_softmax(logits[:, :-1], -1)  # position t predicts token t + 1
            for r, (start, ids) in enumerate(targets):
                idx = torch.arange(start - 1, start - 1 + len(ids), device=logp.device)
                lp = logp[r, idx, torch.as_tensor(ids, device=logp.device)]  # (n_choice_tokens,)
                scores.append(float(lp.mean() if reduce == "mean" else lp.sum()))
        out, k = [], 0
        for cs in choices:
            out.append(np.asarray(scores[k:k + len(cs)], dtype=np.float64))
            k += len(cs)
        return out

    def _append_choices(self, enc: dict[str, Any], texts: list[str]) -> tuple[dict[str, Any], list[tuple[int, list]]]:
        """Right-padded inputs with each row's choice tokens after its prompt, and (start, ids) of each choice."""
        import torch

        tok = self.tokenizer
        ids, mask = enc["input_ids"], enc["attention_mask"].bool()
        aligned = [k for k, v in enc.items() if isinstance(v, torch.Tensor) and v.shape == ids.shape
                   and k not in ("input_ids", "attention_mask")]  # per-token inputs (token types ...)
        rows, targets = [], []
        for r, text in enumerate(texts):
            prompt = ids[r][mask[r]].tolist()
            last = tok.decode(prompt[-1:])
            cont = tok(("" if last[-1:].isspace() else " ") + text, add_special_tokens=False)["input_ids"]
            if not cont:
                raise ValueError(f"choice {text!r} tokenises to nothing; expected a non-empty answer")
            rows.append((prompt, cont))
            targets.append((len(prompt), cont))
        t = max(len(p) + len(c) for p, c in rows)
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        new = {"input_ids": torch.full((len(rows), t), pad, dtype=ids.dtype),
               "attention_mask": torch.zeros((len(rows), t), dtype=enc["attention_mask"].dtype)}
        for k in aligned:
            new[k] = torch.zeros((len(rows), t), dtype=enc[k].dtype)
        for r, (p, c) in enumerate(rows):
            n = len(p) + len(c)
            new["input_ids"][r, :n] = torch.tensor(p + c)
            new["attention_mask"][r, :n] = 1
            for k in aligned:
                new[k][r, :len(p)] = enc[k][r][mask[r]]
                # PaliGemma: token type 0 = prefix (full attention), 1 = the answer (causal); others: 0 = text
                new[k][r, len(p):n] = 1 if k == "token_type_ids" and self.model_type == "paligemma" else 0
        rest = {k: v for k, v in enc.items() if k not in new}
        return {**rest, **new}, targets

    @property
    def layer_names(self) -> list[str]:
        """Names accepted by :meth:`features`: ``"lm.0"`` (the projected image tokens the LM receives) ...
        ``"lm.L"`` (its last layer)."""
        cfg = self.model.config
        n = getattr(getattr(cfg, "text_config", cfg), "num_hidden_layers")
        return [f"lm.{k}" for k in range(n + 1)]

    def features(self, images: Any, layers: Sequence[str] | None = None, question: str = "") -> dict[str, Any]:
        """The language model's hidden states at the image-token positions: ``{layer: (B, N_image, D)}``.

        ``lm.0`` is what the projector hands the LM (its input embeddings over the image); later layers show what
        the LM makes of the image after reading ``question`` (default: none). Float32 tensors on the CPU.

        Example
        -------
        >>> vlm.features(images, layers=["lm.0"])["lm.0"].shape  # doctest: +SKIP
        torch.Size([4, 576, 4096])
        """
        import torch

        wanted = list(layers) if layers is not None else self.layer_names
        bad = [w for w in wanted if w not in self.layer_names]
        if bad:
            raise ValueError(f"unknown layer {bad[0]!r}; expected one of: {', '.join(self.layer_names)}")
        ims = as_image_list(images)
        enc = self._to_device(self.encode(ims, [self.prompt(question)] * len(ims), "left"))
        with torch.no_grad():
            out = self.model(**enc, output_hidden_states=True)
        cfg = self.model.config
        image_id = getattr(cfg, "image_token_id", None)
        where = enc["input_ids"] == image_id  # (B, T)
        counts = where.sum(1)
        if int(counts.min()) == 0 or int(counts.max()) != int(counts.min()):
            raise ValueError(f"image tokens per row {counts.tolist()}: expected the same number (> 0) in each")
        hs = out.hidden_states
        return {name: hs[self.layer_names.index(name)][where].view(len(ims), int(counts[0]), -1).float().cpu()
                for name in wanted}

    def save(self, directory: str | os.PathLike) -> Path:
        """``save_pretrained`` of model and processor (tokenizer and chat template included)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(d)
        self.processor.save_pretrained(d)
        return d


def served_model_types() -> frozenset[str]:
    """Every ``model_type`` that ``AutoModelForImageTextToText`` loads in the installed transformers."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    return frozenset(MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES)


def model_class(config: Any) -> type:
    """The class that loads ``config``: our LLaVA classes for ``llava`` / ``llava_next`` (they also read the
    projector variants this project trains), ``AutoModelForImageTextToText``'s choice otherwise."""
    if config.model_type in ("llava", "llava_next"):
        from preattentive.models.llava import model_class as llava_class

        return llava_class(config)
    from transformers import AutoModelForImageTextToText

    return AutoModelForImageTextToText


def load_vlm(id_or_dir: str | os.PathLike, dtype: Any = None, device: Any = None) -> Vlm:
    """Load any image-text-to-text checkpoint (a directory, a run directory or a cached hub id) with its processor.

    LLaVA / LLaVA-NeXT come back as :class:`~preattentive.models.llava.Llava` (a :class:`Vlm` that can also be
    trained here). ``dtype`` ``None``/``"auto"``: bfloat16 on a GPU that supports it, float32 otherwise.

    Example
    -------
    >>> vlm = load_vlm("Qwen/Qwen2-VL-2B-Instruct")  # doctest: +SKIP
    """
    from transformers import AutoConfig

    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    where = locate(id_or_dir, "vision-language model")
    config = AutoConfig.from_pretrained(where)
    model = model_class(config).from_pretrained(where, dtype=dt).to(dev)
    processor = load_processor(where, model_type_of(where))
    if config.model_type in ("llava", "llava_next"):
        from preattentive.models.llava import Llava

        return Llava(model, processor)
    return Vlm(model, processor)
