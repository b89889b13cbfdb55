def moving_average(values, window):
    if window < 1:
        raise ValueError("window must be at least 1")
    values = list(values)
    return [sum(values[i : i + window]) / window for i in range(len(values) - window + 1)]


def zscores(values):
    values = list(values)
    mean = sum(values) / len(values)
    spread = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
    return [0.0 for _ in values] if spread == 0 else [(v - mean) / spread for v in values]
