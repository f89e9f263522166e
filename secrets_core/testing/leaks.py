"""Everything an exception can show, for tests that check no secret leaks through errors."""

import traceback

#: Path fragments of the project's own code (plugins and contrib included): the frames whose
#: locals a traceback printer with ``capture_locals`` would show.
OUR_CODE = ("/secrets_core/", "/secure_secrets/", "/plugins/", "/contrib/")


def all_text_of(exc: BaseException, our_code: tuple[str, ...] = OUR_CODE) -> str:
    """Messages, reprs and args of ``exc`` and every exception chained to it, their formatted
    tracebacks, and the locals of our frames in every traceback of the chain."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current), repr(current.args)]
        parts += traceback.format_exception(type(current), current, current.__traceback__)
        for frame, _ in traceback.walk_tb(current.__traceback__):
            if any(part in frame.f_code.co_filename for part in our_code):
                parts += [f"{name}={value!r}" for name, value in frame.f_locals.items()]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)
