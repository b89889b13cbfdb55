import re
from collections import Counter


def word_counts(text):
    return dict(Counter(re.findall(r"[a-z']+", text.lower())))


def top_words(text, k):
    # Counter.most_common keeps ties in first-seen order, not alphabetical
    return [word for word, _ in Counter(word_counts(text)).most_common(k)]
