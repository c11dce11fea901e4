"""Store URLs in messages and logs without their passwords.

A PostgreSQL URL may carry a password (``postgresql://user:secret@host/db`` or
``?password=secret``); whatever prints a URL, an error about one or a log line passes it through
:func:`redact` first. :class:`RedactingFilter` does that for log records (message, arguments and
traceback), for loggers whose output we configure (``flexpipe api run``).
"""

from __future__ import annotations

import logging
import re

#: ``scheme://user:password@``: the password runs to the last ``@`` of the token (a password
#: may hold an unencoded ``@``); over-redacting a query that holds an ``@`` is the safe side
_USERINFO = re.compile(r"(://[^:/?#@\s]*):[^\s]*@")
#: ``password=…`` (also ``sslpassword``) in a URL query or a key=value connection string
_PASSWORD_PARAM = re.compile(r"(password\s*=\s*)('[^']*'|[^&\s'\"]+)", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with the passwords of the URLs (and ``password=`` settings) in it as ``***``.

    Parameters
    ----------
    text : str
        A URL, or a message or log line that may contain URLs.

    Returns
    -------
    str
        The same text, passwords replaced by ``***``; user names, hosts and databases stay.

    Examples
    --------
    >>> redact("postgresql://flex:s3cret@db.internal:5432/flex?schema=prod")
    'postgresql://flex:***@db.internal:5432/flex?schema=prod'
    >>> redact("postgresql://flex@db/flex?password=s3cret&sslmode=require")
    'postgresql://flex@db/flex?password=***&sslmode=require'
    """
    return _PASSWORD_PARAM.sub(r"\1***", _USERINFO.sub(r"\1:***@", text))


class RedactingFilter(logging.Filter):
    """A logging filter that redacts passwords in the message, its arguments and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; never drops it.

        Parameters
        ----------
        record : logging.LogRecord
            The record to clean before any handler formats it.

        Returns
        -------
        bool
            Always True (the record is kept).
        """
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
