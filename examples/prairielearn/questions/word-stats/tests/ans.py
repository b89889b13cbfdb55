import re


def word_counts(text):
    counts = {}
    for word in re.findall(r"[a-z']+", text.lower()):
        counts[word] = counts.get(word, 0) + 1
    return counts


def top_words(text, k):
    counts = word_counts(text)
    return sorted(counts, key=lambda w: (-counts[w], w))[:k]
