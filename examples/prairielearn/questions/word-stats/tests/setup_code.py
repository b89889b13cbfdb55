texts = [
    "the cat and the hat",
    "The Cat sat. The cat ran!",
    "a b c a b a",
    "It's what it is, isn't it?",
]
