import numpy.linalg as la

x = la.solve(A, b)
