"""UTF-8 bytes tokenizer of the Perceiver IO language model (`deepmind/language-perceiver`), numpy only.

Reproduces Hugging Face's `PerceiverTokenizer` id for id: ids 0-5 are the special tokens
`[PAD] [BOS] [EOS] [MASK] [CLS] [SEP]`, byte `b` is id `b + 6` (262 ids in all), and a text
encodes to `[CLS] + its UTF-8 bytes + [SEP]`. A special token's string in the text (e.g. "[MASK]",
case-sensitive) becomes its single id; the spaces around it stay bytes of their own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np


def _check_text(text: object, name: str = "text") -> str:
    """`text` itself, or a ValueError naming its type when it is not a str."""
    if not isinstance(text, str):
        raise ValueError(f"{name} must be a str, got {type(text).__name__}")
    return text


class ByteTokenizer:
    """Text <-> Perceiver byte ids, as Hugging Face's `PerceiverTokenizer` (no files, no dependencies).

    `encode` / `decode` convert one text; calling the tokenizer on a text or a list of texts gives
    padded numpy model inputs.
    """

    pad_id, bos_id, eos_id, mask_id, cls_id, sep_id = range(6)
    #: Special token string -> id, in id order.
    special_tokens = {"[PAD]": 0, "[BOS]": 1, "[EOS]": 2, "[MASK]": 3, "[CLS]": 4, "[SEP]": 5}
    #: Ids below this are special tokens; byte `b` is id `b + num_special_tokens`.
    num_special_tokens = len(special_tokens)
    vocab_size = num_special_tokens + 256
    _SPECIAL_PATTERN = re.compile("(" + "|".join(map(re.escape, special_tokens)) + ")")
    _SPECIAL_BYTES = tuple(token.encode("utf-8") for token in special_tokens)

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """The ids of `text`: one per UTF-8 byte, one per special token string in it, framed by
        `[CLS] ... [SEP]` when `add_special_tokens`. Length: bytes outside special strings + their
        count (+ 2). A lone surrogate raises `UnicodeEncodeError` (a ValueError), as in HF."""
        ids = [self.cls_id] if add_special_tokens else []
        for index, piece in enumerate(self._SPECIAL_PATTERN.split(_check_text(text))):
            if index % 2:  # re.split puts the matched special tokens at odd positions
                ids.append(self.special_tokens[piece])
            else:
                ids.extend(byte + self.num_special_tokens for byte in piece.encode("utf-8"))
        if add_special_tokens:
            ids.append(self.sep_id)
        return ids

    def decode(self, ids: Sequence[int] | np.ndarray, skip_special_tokens: bool = False) -> str:
        """The text of `ids` (shape `(length,)`, ints in `[0, vocab_size)`).

        Special tokens become their strings (`"[CLS]"`, ...), or are dropped with `skip_special_tokens`;
        the bytes are joined first and then decoded with `errors="replace"`, so an invalid or cut
        UTF-8 sequence becomes U+FFFD (once per maximal invalid run, as Python decodes) and bytes on
        either side of a dropped special token still join into one character, as in HF.
        """
        array = np.asarray(ids)
        if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
            raise ValueError(f"ids must be a 1-D sequence of ints, got shape {array.shape} of {array.dtype}")
        if array.size and (array.min() < 0 or array.max() >= self.vocab_size):
            bad = array[(array < 0) | (array >= self.vocab_size)][0]
            raise ValueError(f"id {bad} is out of range: ids must be in [0, {self.vocab_size})")
        data = bytearray()
        for token_id in array.tolist():
            if token_id >= self.num_special_tokens:
                data.append(token_id - self.num_special_tokens)
            elif not skip_special_tokens:
                data += self._SPECIAL_BYTES[token_id]
        return data.decode("utf-8", errors="replace")

    def __call__(
        self,
        texts: str | Sequence[str],
        max_length: int,
        padding: str = "max_length",
        truncation: bool = False,
    ) -> dict[str, np.ndarray]:
        """Model inputs for `texts` (one str counts as a batch of one, `B = 1`).

        Each text is `encode`d, then padded on the right with `pad_id` to `max_length`
        (`padding="max_length"`) or to the longest in the batch (`padding="longest"`). A text over
        `max_length` ids raises a ValueError unless `truncation`, which keeps its first
        `max_length - 1` ids and a final `[SEP]` (as HF's `truncation=True`; this may cut a
        multi-byte character).

        Returns:
            `{"inputs": int32 (B, L), "input_mask": bool (B, L)}`, `L = max_length` (or the longest
            length), the mask True on real ids and False on padding.
        """
        if isinstance(texts, str):
            texts = [texts]
        elif not isinstance(texts, (list, tuple)):
            raise ValueError(f"texts must be a str or a list of str, got {type(texts).__name__}")
        if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 2:
            raise ValueError(f"max_length must be an int >= 2 (room for [CLS] and [SEP]), got {max_length!r}")
        if padding not in ("max_length", "longest"):
            raise ValueError(f"padding must be 'max_length' or 'longest', got {padding!r}")
        encoded = []
        for index, text in enumerate(texts):
            ids = self.encode(_check_text(text, f"texts[{index}]"))
            if len(ids) > max_length:
                if not truncation:
                    raise ValueError(f"texts[{index}] encodes to {len(ids)} ids, more than max_length={max_length}; "
                                     "pass truncation=True to cut it")
                ids = ids[: max_length - 1] + [self.sep_id]
            encoded.append(ids)
        length = max_length if padding == "max_length" else max(map(len, encoded), default=0)
        inputs = np.full((len(encoded), length), self.pad_id, np.int32)
        input_mask = np.zeros((len(encoded), length), bool)
        for row, ids in enumerate(encoded):
            inputs[row, : len(ids)] = ids
            input_mask[row, : len(ids)] = True
        return {"inputs": inputs, "input_mask": input_mask}
