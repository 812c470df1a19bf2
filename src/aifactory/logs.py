"""Logging that never writes an API key: a filter on every handler redacts them."""

from __future__ import annotations

import logging

from aifactory.identity.keys import redact_key

__all__ = ["RedactingFilter", "configure_logging"]


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with every aifactory API key replaced by its prefix."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, redacted; never drop a record."""
        message = record.getMessage()
        redacted = redact_key(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(level: str) -> None:
    """Send logs to stderr at `level`, redacted, including uvicorn's own loggers."""
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # A line per upstream request at INFO would double the access log; their failures still show.
    for name in ("httpx", "httpcore", "aiohttp.access"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
