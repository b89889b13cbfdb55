import check50
import check50.py


@check50.check()
def exists():
    """bank.py exists"""
    check50.exists("bank.py")


@check50.check(exists)
def compiles():
    """bank.py compiles"""
    check50.py.compile("bank.py")


@check50.check(compiles)
def imports():
    """bank.py can be imported without running its program"""
    check50.py.import_("bank.py")


@check50.check(compiles)
def deposit():
    """deposits 25"""
    check50.run("python3 bank.py").stdin("25").stdout("Balance: 25\n", regex=False).exit(0)


@check50.check(deposit)
def number():
    """shows the balance as a number"""
    check50.run("python3 bank.py").stdin("7", prompt=False).stdout(7).exit(0)


@check50.check(compiles)
def negative():
    """rejects a negative amount"""
    check50.run("python3 bank.py").stdin("-5").reject()


@check50.check(compiles)
def text():
    """rejects an amount that is not a number"""
    check50.run("python3 bank.py").stdin("cat").reject(timeout=2)


@check50.check(compiles)
def quits():
    """exits with status 2 on quit, printing nothing more"""
    check50.run("python3 bank.py").stdin("quit").stdout(check50.EOF).exit(2)
