import numpy as np
import numpy.linalg as la
from code_feedback import Feedback

n = np.random.randint(4, 12)

# a symmetric positive definite matrix with eigenvalues in [1, 11]
Q = la.qr(np.random.random_sample((n, n)))[0]
A = Q.T @ np.diag(np.random.random_sample(n) * 10 + 1) @ Q
b = np.random.random(n)

la.inv = Feedback.not_allowed
la.pinv = Feedback.not_allowed
