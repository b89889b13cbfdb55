import re


def word_counts(text):
    """Counts words, but keeps their case: 'The' and 'the' are two words."""
    counts = {}
    for word in re.findall(r"[A-Za-z']+", text):
        counts[word] = counts.get(word, 0) + 1
    return counts


def top_words(text, k):
    """The k most frequent words."""
    counts = word_counts(text)
    return sorted(counts, key=lambda word: (-counts[word], word))[:k]
