import check50
import check50.c

USAGE = "Usage: ./reverse number..."


@check50.check()
def exists():
    """reverse.c exists"""
    check50.exists("reverse.c")
    check50.include("numbers.txt")


@check50.check(exists)
def compiles():
    """reverse.c compiles"""
    check50.c.compile("reverse.c")


@check50.check(compiles)
def three():
    """prints 1 2 3 in reverse"""
    check50.run("./reverse 1 2 3").stdout("3 2 1\n", regex=False).exit(0)


@check50.check(compiles)
def from_file():
    """reverses the numbers of numbers.txt"""
    check50.run("./reverse $(cat numbers.txt)").stdout("42 23 16 15 8 4").exit(0)


@check50.check(compiles)
def usage():
    """prints its usage and exits 1 without numbers"""
    check50.run("./reverse").stdout(USAGE, regex=False).exit(1)


@check50.check(three)
def memory():
    """has no memory errors or leaks"""
    check50.c.valgrind("./reverse 1 2 3").stdout("3 2 1").exit(0)


@check50.check(compiles)
def many():
    """reverses 500 numbers"""
    numbers = [str(n) for n in range(500)]
    output = check50.run("./reverse " + " ".join(numbers)).stdout()
    if output.split() != numbers[::-1]:
        raise check50.Failure("500 numbers were not reversed")
