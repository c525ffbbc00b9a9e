"""Keeps API keys out of the server's logs.

A browser's WebSocket cannot set headers, so it sends its key as `?api_key=`; uvicorn writes the
query string into its access log (`uvicorn.access`) and its WebSocket lines (`uvicorn.error`)
whenever their level lets INFO through (BentoML's --debug, an operator's logging config). The
filter rewrites the parameter's value on every record those loggers, BentoML's access log and the
service's own make, before any handler sees it.
"""

import logging
import re

#: an api_key query parameter's value, up to the next separator; one pass, no backtracking
API_KEY_PARAMETER = re.compile(r"(api_key=)[^&\s\"'#]*", re.IGNORECASE)
REDACTED = r"\1[redacted]"
#: the loggers that write a request's target
REQUEST_LOGGERS = ("uvicorn.access", "uvicorn.error", "bentoml.access", "kokoro_tts")


def redact(text: str) -> str:
    return API_KEY_PARAMETER.sub(REDACTED, text)


class RedactApiKeys(logging.Filter):
    """Redacts in the message and in each string argument, keeping the arguments a tuple:
    uvicorn's access formatter unpacks them by position."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: redact(arg) if isinstance(arg, str) else arg for key, arg in record.args.items()}
        return True


def redact_api_keys(names: tuple[str, ...] = REQUEST_LOGGERS) -> None:
    """Adds the filter to each logger once; BentoML's logging config keeps a logger's filters."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactApiKeys) for existing in logger.filters):
            logger.addFilter(RedactApiKeys())
