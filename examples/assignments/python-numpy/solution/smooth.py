import numpy as np


def moving_average(values, window):
    if window < 1:
        raise ValueError("window must be at least 1")
    data = np.asarray(values, dtype=np.float64)
    if window > data.size:
        return np.empty(0, dtype=np.float64)
    sums = np.cumsum(np.concatenate(([0.0], data)))
    return (sums[window:] - sums[:-window]) / window


def zscores(values):
    data = np.asarray(values, dtype=np.float64)
    spread = data.std()
    if spread == 0:
        return np.zeros_like(data)
    return (data - data.mean()) / spread
