#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder is built.
# Python's standard library is all the tests need; gsutils/ is vendored here.
apt-get install -y python3
