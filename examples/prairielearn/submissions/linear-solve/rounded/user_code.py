import numpy as np

x = np.linalg.solve(A, b).round(3)
