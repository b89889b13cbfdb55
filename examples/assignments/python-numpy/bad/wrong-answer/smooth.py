import numpy as np


def moving_average(values, window):
    if window < 1:
        raise ValueError("window must be at least 1")
    data = np.asarray(values, dtype=np.float64)
    # partial windows at the start: one mean per value
    return np.array([data[max(0, i - window + 1) : i + 1].mean() for i in range(data.size)])


def zscores(values):
    data = np.asarray(values, dtype=np.float64)
    spread = data.std()
    if spread == 0:
        return np.zeros_like(data)
    return (data - data.mean()) / spread
