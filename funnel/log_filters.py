"""Log filters the settings' LOGGING refers to."""

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """Keeps django.request's one-line warning for a 4xx and drops its traceback.

    Django attaches the exception to every 403 it logs; a refused request is the client's
    mistake, and a traceback per refusal buries the real errors (5xx keep theirs).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status_code = getattr(record, "status_code", None)
        if status_code is not None and status_code < 500:
            record.exc_info = None
            record.exc_text = None
        return True
