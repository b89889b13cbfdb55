"""The program that evaluates a Python assert's probes inside the sandbox.

Run as ``python3 -I -B -c DRIVER nonce module_dir module probes_json``. It
keeps a private copy of stdout for its one result line and sends the
student's prints to stderr, imports the module (the workspace is appended
to ``sys.path``, after the standard library), evaluates each probe in the
module's namespace and writes the values as tagged JSON: only None, bool,
int, float, complex, str, bytes, list, tuple, set, frozenset and dict leave
the process, never objects with behaviour of their own. Then it ends with
``os._exit(0)`` so no handler of the student's runs afterwards.
"""

DRIVER = r"""
import json, os, sys, traceback


def encode(value, depth=0):
    if depth > 100:
        raise ValueError("a value nested more than 100 levels deep")
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value if -(2 ** 63) <= value < 2 ** 63 else {"int": str(value)}
    if kind is float:
        return {"float": value.hex()}
    if kind is complex:
        return {"complex": [value.real.hex(), value.imag.hex()]}
    if kind is bytes:
        return {"bytes": value.hex()}
    if kind in (list, tuple, set, frozenset):
        return {kind.__name__: [encode(item, depth + 1) for item in value]}
    if kind is dict:
        return {"dict": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    raise TypeError(
        "a " + kind.__name__ + " object, which an assert cannot compare outside your program "
        "(asserts compare None, bool, int, float, complex, str, bytes, list, tuple, set, "
        "frozenset and dict values)"
    )


def describe(exc):
    try:
        text = str(exc)[:500]
    except BaseException:
        text = "?"
    return type(exc).__name__ + (": " + text if text else "")


def main():
    nonce, module_dir, module_name, probes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    sources = json.loads(probes)
    channel = os.dup(1)
    os.dup2(2, 1)
    sys.path.append(module_dir)

    def send(frame):
        frame["nonce"] = nonce
        data = (json.dumps(frame) + "\n").encode()
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
        while data:
            data = data[os.write(channel, data):]
        os._exit(0)

    try:
        import importlib
        module = importlib.import_module(module_name)
    except BaseException as exc:
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
        send({"import_error": describe(exc)})
    namespace = vars(module)
    values = []
    for source in sources:
        try:
            value = eval(compile(source, "<assert>", "eval"), namespace)
        except BaseException as exc:
            traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
            values.append({"raised": source + " raised " + describe(exc)})
            continue
        try:
            values.append({"value": encode(value)})
        except (TypeError, ValueError, RecursionError) as exc:
            values.append({"unsupported": source + " gave " + str(exc)})
    send({"values": values})


main()
"""
