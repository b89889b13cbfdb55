"""Word statistics."""

import re
from collections import Counter


def word_counts(text):
    """How many times each word occurs (lower case; letters and apostrophes)."""
    return dict(Counter(re.findall(r"[a-z']+", text.lower())))


def top_words(text, k):
    """The k most frequent words, ties in alphabetical order."""
    counts = word_counts(text)
    return sorted(counts, key=lambda word: (-counts[word], word))[:k]
