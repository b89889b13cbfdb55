x = A @ b
