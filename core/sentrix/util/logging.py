"""``LoggingHandler``: a logging handler that prints through tqdm, so log lines do not break bars;
``install_logger``: give one logger a format, a level and (with ``coloredlogs``) colours.

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


#: the level ``install_logger`` adds between INFO (20) and WARNING (30), used as ``logger.notice(...)``.
NOTICE = 25


def _notice(self: logging.Logger, message: object, *args: object, **kwargs: object) -> None:
    if self.isEnabledFor(NOTICE):
        self._log(NOTICE, message, args, **kwargs)


def install_logger(
    given_logger: logging.Logger, level: int | str = logging.WARNING, fmt: str = "%(levelname)s:%(name)s:%(message)s"
) -> None:
    """Set up ``given_logger``: records at ``level`` and above, written to stderr as ``fmt``.

    Also adds a ``NOTICE`` level (25, between INFO and WARNING) with a ``logger.notice(...)``
    method. With the ``coloredlogs`` package installed the output is coloured (debug faint,
    notice cyan); without it a plain ``StreamHandler`` is attached (once, however often this is
    called).
    """
    logging.addLevelName(NOTICE, "NOTICE")
    logging.Logger.notice = _notice  # type: ignore[attr-defined]
    try:
        import coloredlogs
    except ImportError:
        coloredlogs = None
    if coloredlogs is None:
        given_logger.setLevel(level)
        handler = next((h for h in given_logger.handlers if getattr(h, "_sentrix_install_logger", False)), None)
        if handler is None:
            handler = logging.StreamHandler()
            handler._sentrix_install_logger = True  # type: ignore[attr-defined]
            given_logger.addHandler(handler)
        handler.setLevel(level)
        handler.setFormatter(logging.Formatter(fmt))
        return
    field_styles = dict(coloredlogs.DEFAULT_FIELD_STYLES, asctime={})
    level_styles = dict(
        coloredlogs.DEFAULT_LEVEL_STYLES,
        debug={"color": "white", "faint": True},
        notice={"color": "cyan", "bold": True},
    )
    coloredlogs.install(
        logger=given_logger, level=level, use_chroot=False, fmt=fmt, level_styles=level_styles,
        field_styles=field_styles,
    )
