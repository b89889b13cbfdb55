# thinks (busy) before its first guess and never makes one
while True:
    pass
