#!/usr/bin/env python3
"""Unicode-wide goldens for the tokenizer, made with Hugging Face `tokenizers`.

Every code point of planes 0, 1 and 14 (and a sample of planes 2 and 3) goes
through the pre-tokenizer's regexes in a small context (next to letters,
spaces, digits, punctuation and CJK), 32 code points to a case, so any code
point whose Unicode category or White_Space property the library's regex
engine sees differently from the reference's shows up as a different id
sequence. The ids are stored as a count and a 64-bit FNV-1a hash of the ids
written as decimal and joined by single spaces; the test rebuilds each text
from its first code point with the same rule.

Usage: tokenizer_unicode_blocks.py TOKENIZER_JSON OUT_JSONL
"""
import json
import sys

from tokenizers import Tokenizer

BLOCK = 32


def block_text(first):
    parts = []
    for cp in range(first, first + BLOCK):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        parts.append("a" + c + c + " " + c + "1" + c + "!" + c + "\u6570" + c + "\n")
    return "".join(parts)


def fnv64(ids):
    h = 0xCBF29CE484222325
    for b in " ".join(str(i) for i in ids).encode():
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def block_starts():
    for first in range(0, 0x20000, BLOCK):
        if 0xD800 <= first <= 0xDFFF:
            continue
        yield first
    for first in range(0x20000, 0x40000, BLOCK * 64):
        yield first
    for first in range(0xE0000, 0xE0200, BLOCK):
        yield first


def main():
    tok = Tokenizer.from_file(sys.argv[1])
    with open(sys.argv[2], "w", encoding="utf-8") as out:
        for first in block_starts():
            text = block_text(first)
            enc = tok.encode(text, add_special_tokens=False)
            ids = enc.ids
            if tok.decode(ids, skip_special_tokens=False) != text:
                raise SystemExit("block %#x does not round-trip" % first)
            out.write(json.dumps({"first": first, "n_ids": len(ids),
                                  "fnv64": "%016x" % fnv64(ids)}) + "\n")


if __name__ == "__main__":
    main()
