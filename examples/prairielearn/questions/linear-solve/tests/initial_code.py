import numpy as np

x = np.zeros(n)
