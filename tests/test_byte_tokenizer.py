"""ByteTokenizer against Hugging Face's PerceiverTokenizer (built offline: it needs no files)."""

import numpy as np
import pytest

from perceiver_tf.data.byte_tokenizer import ByteTokenizer

transformers = pytest.importorskip("transformers")

TEXTS = [
    "Hello, world!",
    "naïve café 日本語 🙂",
    "",
    "  spaces \t tabs\nnewlines\r\n\x00",
    "a [MASK] b",
    "a[MASK]b",
    " [MASK] ",
    "[MASK][MASK] then [CLS]x[SEP] and [PAD][BOS][EOS]",
    "[[MASK]] [MASK [mask] [MAS K] [UNK]",
]


@pytest.fixture(scope="module")
def hf():
    return transformers.PerceiverTokenizer()


@pytest.fixture(scope="module")
def tok():
    return ByteTokenizer()


def test_vocabulary_matches_hf(hf, tok):
    assert tok.vocab_size == len(hf) == 262
    assert tok.special_tokens == {token: hf.convert_tokens_to_ids(token) for token in tok.special_tokens}
    assert (tok.pad_id, tok.mask_id, tok.cls_id, tok.sep_id) == (
        hf.pad_token_id, hf.mask_token_id, hf.cls_token_id, hf.sep_token_id)
    assert tok.encode("A", add_special_tokens=False) == [ord("A") + 6]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("add_special_tokens", [True, False])
def test_encode_matches_hf(hf, tok, text, add_special_tokens):
    assert tok.encode(text, add_special_tokens) == hf.encode(text, add_special_tokens=add_special_tokens)


def test_encode_known_ids(tok):
    assert tok.encode("") == [4, 5]
    assert tok.encode("é") == [4, 0xC3 + 6, 0xA9 + 6, 5]
    assert tok.encode(" [MASK] ") == [4, 38, 3, 38, 5]  # the spaces around [MASK] stay


@pytest.mark.parametrize("padding", ["max_length", "longest"])
def test_batch_padding_matches_hf(hf, tok, padding):
    texts = TEXTS[:6]
    out = tok(texts, max_length=40, padding=padding)
    expected = hf(texts, max_length=40, padding=padding, return_tensors="np")
    assert out["inputs"].dtype == np.int32 and out["input_mask"].dtype == bool
    assert out["inputs"].shape == (6, 40 if padding == "max_length" else max(map(len, hf(texts)["input_ids"])))
    np.testing.assert_array_equal(out["inputs"], expected["input_ids"])
    np.testing.assert_array_equal(out["input_mask"], expected["attention_mask"].astype(bool))


def test_single_text_is_a_batch_of_one(tok):
    out = tok("ab", max_length=5)
    np.testing.assert_array_equal(out["inputs"], [[4, 103, 104, 5, 0]])
    np.testing.assert_array_equal(out["input_mask"], [[True, True, True, True, False]])


@pytest.mark.parametrize("max_length", [2, 3, 5, 12])
def test_truncation_matches_hf(hf, tok, max_length):
    texts = ["abcdef", "[MASK]abc", "日本語", "x"]
    out = tok(texts, max_length=max_length, truncation=True)
    expected = hf(texts, max_length=max_length, padding="max_length", truncation=True, return_tensors="np")
    np.testing.assert_array_equal(out["inputs"], expected["input_ids"])
    np.testing.assert_array_equal(out["input_mask"], expected["attention_mask"].astype(bool))
    assert (out["inputs"][:, 0] == tok.cls_id).all() and tok.sep_id in out["inputs"][0]


def test_too_long_without_truncation_raises(tok):
    with pytest.raises(ValueError, match=r"^texts\[1\] encodes to 8 ids, more than max_length=5; pass truncation"):
        tok(["ab", "abcdef"], max_length=5)


@pytest.mark.parametrize("text", TEXTS)
def test_decode_round_trip(hf, tok, text):
    ids = tok.encode(text)
    assert tok.decode(ids) == hf.decode(ids)
    assert tok.decode(ids, skip_special_tokens=True) == hf.decode(ids, skip_special_tokens=True)
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text


@pytest.mark.parametrize(
    "ids",
    [
        [4, 103, 38, 3, 38, 104, 5, 0, 0],  # specials in and around text, padding
        [0xE6 + 6, 0x97 + 6, 3, 0xA5 + 6],  # a character split by [MASK]: joins once [MASK] is skipped
        [4, 0xC3 + 6, 5],  # cut multi-byte character
        [0xFF + 6, 70, 1, 2],  # invalid byte, [BOS], [EOS]
        [],
    ],
)
@pytest.mark.parametrize("skip", [False, True])
def test_decode_special_and_invalid_ids_matches_hf(hf, tok, ids, skip):
    assert tok.decode(ids, skip_special_tokens=skip) == hf.decode(ids, skip_special_tokens=skip)
    assert tok.decode(np.array(ids, np.int32), skip_special_tokens=skip) == hf.decode(ids, skip_special_tokens=skip)


def test_decode_known_strings(tok):
    assert tok.decode([4, 0xE6 + 6, 0x97 + 6, 3, 0xA5 + 6, 5]) == "[CLS]\ufffd[MASK]\ufffd[SEP]"
    assert tok.decode([4, 0xE6 + 6, 0x97 + 6, 3, 0xA5 + 6, 5], skip_special_tokens=True) == "日"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda t: t.encode(b"bytes"), "^text must be a str, got bytes$"),
        (lambda t: t(["ok", 5], max_length=8), r"^texts\[1\] must be a str, got int$"),
        (lambda t: t(5, max_length=8), "^texts must be a str or a list of str, got int$"),
        (lambda t: t("ab", max_length=1), "^max_length must be an int >= 2"),
        (lambda t: t("ab", max_length=0, truncation=True), "^max_length must be an int >= 2"),
        (lambda t: t("ab", max_length=8, padding="do_not_pad"), "^padding must be 'max_length' or 'longest'"),
        (lambda t: t.decode([4, 262]), r"^id 262 is out of range: ids must be in \[0, 262\)$"),
        (lambda t: t.decode([-1]), r"^id -1 is out of range"),
        (lambda t: t.decode([[4, 5]]), "^ids must be a 1-D sequence of ints, got shape"),
        (lambda t: t.decode([4.0, 5.0]), "^ids must be a 1-D sequence of ints"),
        (lambda t: t.encode("\ud800"), "surrogates not allowed"),
    ],
)
def test_bad_input_raises_value_error(tok, call, message):
    with pytest.raises(ValueError, match=message):
        call(tok)
