"""``LoggingHandler``: a logging handler that prints through tqdm, so log lines do not break bars.

Example::

    import logging
    from sentrix import LoggingHandler

    logging.basicConfig(format="%(asctime)s - %(message)s", level=logging.INFO, handlers=[LoggingHandler()])
"""

from __future__ import annotations

import logging

import tqdm


class LoggingHandler(logging.Handler):
    """Writes each formatted record with ``tqdm.write``, above any running progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.tqdm.write(self.format(record))
            self.flush()
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception:
            self.handleError(record)
