#!/usr/bin/env python3
"""Hugging Face `tokenizers` encode throughput on a corpus, one encode call a
line on one thread, as bench/tokenizer_bench.cc measures the library.

Usage: hf_encode_speed.py TOKENIZER_JSON CORPUS [REPEATS]
"""
import os
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
from tokenizers import Tokenizer  # noqa: E402


def main():
    tok = Tokenizer.from_file(sys.argv[1])
    with open(sys.argv[2], encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    size = sum(len(line.encode()) for line in lines)
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    best = best_cpu = None
    for _ in range(repeats):
        start = time.perf_counter()
        start_cpu = time.process_time()
        tokens = 0
        for line in lines:
            tokens += len(tok.encode(line, add_special_tokens=False).ids)
        elapsed = time.perf_counter() - start
        elapsed_cpu = time.process_time() - start_cpu
        best = elapsed if best is None else min(best, elapsed)
        best_cpu = elapsed_cpu if best_cpu is None else min(best_cpu, elapsed_cpu)
    print("hf_tokenizers lines=%d bytes=%d tokens=%d best wall=%.3fs MB/s=%.2f "
          "best cpu=%.3fs MB/s=%.2f" % (len(lines), size, tokens, best, size / best / 1e6,
                                        best_cpu, size / best_cpu / 1e6))


if __name__ == "__main__":
    main()
