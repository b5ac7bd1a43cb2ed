# The grading rule of every check (course/build.py puts this function at the top of each test
# function, after the chapter's common block, and passes the student's functions through it).
def graded(function, allow=()):
    """``function`` run so that recsys_lib's own code is unavailable to it: while it runs, a
    direct call from the notebook into recsys_lib raises, except the names in ``allow``."""
    import functools
    import sys
    import types
    if not isinstance(function, types.FunctionType):
        return function
    home, calls = function.__globals__, []

    def tracer(frame, event, arg):
        module = frame.f_globals.get("__name__") or ""
        if (event == "call" and module.split(".")[0] == "recsys_lib"
                and frame.f_back is not None and frame.f_back.f_globals is home):
            name = f"{module}.{frame.f_code.co_qualname}"
            code = frame.f_code.co_name
            dunder = code.startswith("__") and code not in ("__init__", "__call__")
            if not dunder and name not in allow:
                calls.append(name)
                raise RuntimeError(f"this check grades your own implementation: {name} "
                                   "is disabled here")

    @functools.wraps(function)
    def run(*args, **kwargs):
        before = sys.gettrace()
        sys.settrace(tracer)
        try:
            result = function(*args, **kwargs)
        finally:
            sys.settrace(before)
        if calls:
            raise RuntimeError(f"this check grades your own implementation: {calls[0]} is "
                               "disabled here")
        return result
    return run
