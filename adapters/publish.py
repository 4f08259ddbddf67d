"""Publishing an ingest report: accepted events to ``hanger.submissions`` (keyed by submission id),
every rejected item as a ``DeadLetter`` with its issues to ``hanger.dlq``. Shared by the CLI and
the bridge."""

from __future__ import annotations

from adapters.common.issues import Issue
from adapters.common.pipeline import IngestReport
from hanger import topics
from hanger.errors import InputError
from hanger.events import DeadLetter
from hanger.kafka import DeadLetters, EventSink, Original


def rejection_error(issues: list[Issue]) -> InputError:
    errors = [i for i in issues if i.is_error] or issues
    code = errors[0].code if errors else "rejected"
    return InputError(code, "; ".join(i.describe() for i in errors))


async def publish_report(
    report: IngestReport,
    producer: EventSink,
    dead_letters: DeadLetters,
    raw: bytes,
    *,
    max_letter_bytes: int,
    origin: Original | None = None,
) -> list[DeadLetter]:
    """Send accepted events, then dead-letter what was rejected; returns the letters sent.

    ``origin`` (the consumed record) is used for the dead letters of a message; for files each
    rejected item's own bytes are the original. A file rejected as a whole (not a workbook, zip
    bomb …) is dead-lettered with its bytes when they fit in a message, else with its digest only.
    """
    for outcome in report.accepted:
        assert outcome.event is not None
        await producer.send(topics.SUBMISSIONS, outcome.event.submission_id, outcome.event)
    letters: list[DeadLetter] = []
    for outcome in report.rejected:
        key = (outcome.product_id or outcome.item.ref).encode("utf-8")
        original = origin or Original(value=outcome.item.raw, key=key)
        error = rejection_error(outcome.issues)
        error.message = f"{report.source} {outcome.item.ref}: {error.message}"
        letters.append(await dead_letters.publish(error, original))
    if not report.outcomes and report.issues:
        error = rejection_error(report.issues)
        error.message = f"{report.source}: {error.message}"
        if origin is not None:
            letters.append(await dead_letters.publish(error, origin))
        else:
            fits = len(raw) <= max_letter_bytes
            letter = dead_letters.build(error, Original(value=raw if fits else b"",
                                                        key=report.source.encode("utf-8")))
            if not fits:
                letter = letter.model_copy(update={"original_sha256": DeadLetter.digest(raw)})
            await producer.send(topics.DLQ, report.source, letter)
            letters.append(letter)
    return letters
