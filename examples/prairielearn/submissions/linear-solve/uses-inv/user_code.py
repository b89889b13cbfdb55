import numpy as np

x = np.linalg.inv(A) @ b
