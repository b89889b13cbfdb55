import check50
import check50.c


@check50.check()
def exists():
    """greet.c exists"""
    check50.exists("greet.c")


@check50.check(exists)
def compiles():
    """greet.c compiles"""
    check50.c.compile("greet.c")


@check50.check(compiles)
def emma():
    """responds to name Emma"""
    check50.run("./greet").stdin("Emma").stdout("hello, Emma\n", regex=False).exit(0)


@check50.check(compiles)
def rodrigo():
    """responds to name Rodrigo, with one line"""
    check50.run("./greet").stdin("Rodrigo").stdout("hello, Rodrigo\n").stdout(check50.EOF)


@check50.check(compiles)
def empty():
    """asks again after an empty name"""
    check50.run("./greet").stdin("", prompt=True).reject()


@check50.check(compiles)
def many():
    """greets three names in turn"""
    for name in ["Ann", "Bo", "Cy"]:
        check50.run("./greet").stdin(name).stdout(f"hello, {name}").exit(0)
