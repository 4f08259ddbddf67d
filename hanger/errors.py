"""Error taxonomy: every error says whether retrying can help.

- :class:`InputError` (``retriable = False``): the message or file itself is wrong. Retrying gives the
  same answer, so the stage dead-letters the original bytes with ``code`` and commits the offset.
- :class:`TransientError` (``retriable = True``): the world is temporarily wrong (broker, database,
  image host). The stage retries with backoff and does not commit until it succeeds.

``code`` is a short stable snake_case string (DLQ reports group by it); ``message`` is for people.
"""

from __future__ import annotations


class HangerError(Exception):
    retriable: bool = False
    code: str = "error"

    def __init__(self, code: str | None = None, message: str = "") -> None:
        if code is not None:
            self.code = code
        self.message = message or self.code
        super().__init__(f"{self.code}: {self.message}")


class InputError(HangerError):
    """Bad input: dead-letter it and move on."""

    retriable = False
    code = "invalid_input"


class InvalidMessage(InputError):
    """A Kafka message that is not a valid canonical event (not JSON, wrong schema, extra field)."""

    code = "invalid_event"


class ImageError(InputError):
    """An image that cannot be used (not an image, truncated, too large, unreachable for good)."""

    code = "bad_image"


class TransientError(HangerError):
    """Temporary failure: retry with backoff, do not commit."""

    retriable = True
    code = "transient"


class ConfigError(HangerError):
    """Settings that cannot work; raised at start-up, before any message is consumed."""

    code = "bad_config"
