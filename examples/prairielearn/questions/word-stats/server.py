def generate(data):
    data["params"]["names_for_user"] = [
        {"name": "texts", "description": "sample texts", "type": "list of str"}
    ]
    data["params"]["names_from_user"] = [
        {"name": "word_counts", "description": "counts words", "type": "function"},
        {"name": "top_words", "description": "the k most frequent words", "type": "function"},
    ]
