"""The enrichment stage with in-memory fakes: routing, idempotency, bad input, image problems."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from db.fakes import FakeEnrichmentStore
from hanger import topics
from hanger.errors import ImageError, TransientError
from hanger.events import (
    ApprovalRequested,
    Classification,
    DeadLetter,
    ModelInfo,
    ProductEnriched,
    RouteKind,
    encode,
)
from hanger.kafka import DeadLetters, Original
from hanger.taxonomy import load_taxonomy
from streams.enrich import Enricher
from tests.unit.factories import MODEL, classification, submission


@dataclass(frozen=True)
class FakePrediction:
    classification: Classification
    image_problems: tuple[str, ...] = ()


class FakeClassifier:
    """Classifies by the first image's bytes: b'T202:0.97' means Shorts at 97 %."""

    model_info: ModelInfo = MODEL
    auto_approve_threshold = 0.9

    def __init__(self) -> None:
        self.calls = 0

    async def classify_images(self, images: Sequence[bytes]) -> FakePrediction:
        self.calls += 1
        tid, conf = images[0].decode().split(":")
        return FakePrediction(classification(tid, float(conf)))


class FakeFetcher:
    def __init__(self, files: dict[str, bytes | Exception]) -> None:
        self.files = files

    async def fetch(self, uri: str) -> bytes:
        found = self.files[uri]
        if isinstance(found, Exception):
            raise found
        return found


def make(files: dict[str, bytes | Exception]) -> tuple[Enricher, FakeEnrichmentStore, FakeClassifier]:
    store, clf = FakeEnrichmentStore(), FakeClassifier()
    enricher = Enricher(
        classifier=clf, fetcher=FakeFetcher(files), store=store, taxonomy=load_taxonomy(),
        dead_letters=DeadLetters(None, stage="enrich"), threshold=0.9,
    )
    return enricher, store, clf


async def test_confident_match_is_auto_approved_with_one_enriched_output() -> None:
    enricher, _, _ = make({"file:///img/main.jpg": b"T101:0.99"})
    outcome = await enricher.handle(Original(encode(submission(declared="T101"))))
    assert [o.topic for o in outcome.outputs] == [topics.ENRICHED]
    enriched = outcome.outputs[0].value
    assert isinstance(enriched, ProductEnriched)
    assert enriched.route.kind == RouteKind.AUTO_APPROVED
    assert enriched.classification is not None and enriched.classification.taxonomy_id == "T101"


async def test_mismatch_asks_the_sellers_md_once_even_when_resent() -> None:
    enricher, store, clf = make({"file:///img/main.jpg": b"T202:0.99"})
    store.seller_md[("tmon", "seller-1")] = "MD-7"
    raw = encode(submission(declared="T203"))
    first = await enricher.handle(Original(raw))
    assert [o.topic for o in first.outputs] == [topics.ENRICHED, topics.APPROVAL_REQUESTS]
    request = first.outputs[1].value
    assert isinstance(request, ApprovalRequested) and request.md_id == "MD-7"
    assert request.reasons == ("category_mismatch",)
    await store.mark_approval_published(first.approval_submission or "")

    again = await enricher.handle(Original(raw))  # the portal re-sends the same product
    assert [o.topic for o in again.outputs] == [topics.ENRICHED]
    assert again.outputs[0].value == first.outputs[0].value  # the same answer, not recomputed
    assert clf.calls == 1


async def test_redelivery_before_publish_publishes_the_request_again() -> None:
    enricher, _, _ = make({"file:///img/main.jpg": b"T202:0.99"})
    raw = encode(submission(declared="T203"))
    await enricher.handle(Original(raw))  # crash: the transaction never committed
    redelivered = await enricher.handle(Original(raw))
    assert [o.topic for o in redelivered.outputs] == [topics.ENRICHED, topics.APPROVAL_REQUESTS]


async def test_md_by_category_when_the_seller_has_none() -> None:
    enricher, store, _ = make({"file:///img/main.jpg": b"T101:0.5"})
    store.category_md["T100"] = "MD-TOPS"
    outcome = await enricher.handle(Original(encode(submission(declared="T101"))))
    request = outcome.outputs[1].value
    assert isinstance(request, ApprovalRequested) and request.md_id == "MD-TOPS"


async def test_malformed_message_becomes_a_dead_letter_with_the_original_bytes() -> None:
    enricher, store, _ = make({})
    outcome = await enricher.handle(Original(b"{not json", key=b"k", topic="t", partition=1, offset=9))
    assert [o.topic for o in outcome.outputs] == [topics.DLQ]
    letter = outcome.outputs[0].value
    assert isinstance(letter, DeadLetter)
    assert (letter.code, letter.stage, letter.original_offset) == ("not_json", "enrich", 9)
    assert letter.original_sha256 == DeadLetter.digest(b"{not json")
    assert store.submissions == {}


async def test_bad_secondary_image_is_a_problem_not_a_failure() -> None:
    files: dict[str, bytes | Exception] = {
        "file:///img/main.jpg": b"T101:0.99",
        "file:///img/2.jpg": ImageError("not_an_image", "nope"),
    }
    enricher, _, _ = make(files)
    sub = submission(images=("file:///img/main.jpg", "file:///img/2.jpg"))
    enriched = (await enricher.handle(Original(encode(sub)))).outputs[0].value
    assert isinstance(enriched, ProductEnriched)
    assert enriched.flags.image_problems == ("image[1]: not_an_image",)
    assert enriched.route.kind == RouteKind.NEEDS_MD


async def test_no_usable_image_goes_to_the_fallback_queue() -> None:
    enricher, _, _ = make({"file:///img/main.jpg": ImageError("image_not_found", "gone")})
    enriched = (await enricher.handle(Original(encode(submission())))).outputs[0].value
    assert isinstance(enriched, ProductEnriched)
    assert enriched.classification is None
    assert enriched.route.md_id == "MD-QUEUE"
    assert "no_usable_image" in enriched.route.reasons


async def test_transient_fetch_failure_propagates_for_retry() -> None:
    enricher, store, _ = make({"file:///img/main.jpg": TransientError("image_timeout", "slow")})
    with pytest.raises(TransientError):
        await enricher.handle(Original(encode(submission())))
    assert store.results == {}


async def test_shadow_model_is_recorded_but_never_routed_or_published() -> None:
    enricher, store, _ = make({"file:///img/main.jpg": b"T101:0.99"})

    class Shadow(FakeClassifier):
        model_info = ModelInfo(name="candidate", version="t2", sha256="1" * 64)

        async def classify_images(self, images: Sequence[bytes]) -> FakePrediction:
            return FakePrediction(classification("T102", 0.8).model_copy(
                update={"model": self.model_info}))

    enricher.shadow = Shadow()
    outcome = await enricher.handle(Original(encode(submission(declared="T101"))))
    assert [o.topic for o in outcome.outputs] == [topics.ENRICHED]
    live = outcome.outputs[0].value
    assert isinstance(live, ProductEnriched) and live.route.kind == RouteKind.AUTO_APPROVED
    sid = submission().submission_id
    shadow = store.results[(sid, "t2")]
    assert shadow.classification is not None and shadow.classification.taxonomy_id == "T102"
    assert store.results[(sid, "t1")] == live


async def test_a_batch_costs_a_fixed_number_of_round_trips_whatever_its_size() -> None:
    trips = []
    for n in (1, 16):
        files: dict[str, bytes | Exception] = {f"file:///img/{i}.jpg": b"T202:0.99" for i in range(n)}
        enricher, store, _ = make(files)
        subs = [submission(f"P{i}", declared="T203", images=(f"file:///img/{i}.jpg",))
                for i in range(n)]
        outcomes = await enricher.handle_batch([Original(encode(s)) for s in subs])
        assert [len(o.outputs) for o in outcomes] == [2] * n  # enriched + approval request each
        trips.append(store.round_trips)
    assert trips[0] == trips[1]


async def test_the_same_submission_twice_in_a_batch_is_computed_once_and_asks_once() -> None:
    enricher, _, clf = make({"file:///img/main.jpg": b"T202:0.99"})
    raw = encode(submission(declared="T203"))
    bad = Original(b"[]", key=b"k", topic="t", partition=0, offset=3)
    first, dead, again = await enricher.handle_batch([Original(raw), bad, Original(raw)])
    assert [o.topic for o in first.outputs] == [topics.ENRICHED, topics.APPROVAL_REQUESTS]
    assert [o.topic for o in dead.outputs] == [topics.DLQ]
    assert [o.topic for o in again.outputs] == [topics.ENRICHED]
    assert again.outputs[0].value == first.outputs[0].value
    assert clf.calls == 1


async def test_a_stuck_batch_times_out_as_transient_and_drops_pooled_connections() -> None:
    import asyncio

    from hanger.settings import Settings
    from streams.app import EnrichRuntime

    enricher, store, _ = make({"file:///img/main.jpg": b"T101:0.99"})

    async def never(records: Sequence[Original]) -> list[object]:
        await asyncio.Event().wait()  # a connection that never answers
        return []

    enricher.prepare_batch = never  # type: ignore[method-assign,assignment]
    runtime = EnrichRuntime(settings=Settings(batch_timeout_s=0.05), enricher=enricher,
                            publisher=None, group_id="g", closers=[])  # type: ignore[arg-type]
    records = [Original(encode(submission()), topic="t", partition=0, offset=0)]
    with pytest.raises(TransientError) as info:
        await runtime._guarded(lambda: enricher.prepare_batch(records))
    assert info.value.code == "batch_timeout"
    assert store.resets == 1


async def test_a_batch_that_ignores_its_timeout_trips_the_watchdog(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import contextlib
    import threading

    from hanger.settings import Settings
    from streams import app

    enricher, _, _ = make({})
    tripped = threading.Event()
    monkeypatch.setattr(app, "_hung", lambda seconds: tripped.set())  # instead of os._exit

    async def stubborn(records: Sequence[Original]) -> list[object]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3
        while loop.time() < deadline:  # a library that swallows cancellation
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                continue
        return []

    enricher.prepare_batch = stubborn  # type: ignore[method-assign,assignment]
    runtime = app.EnrichRuntime(settings=Settings(batch_timeout_s=0.1), enricher=enricher,
                                publisher=None, group_id="g", closers=[])  # type: ignore[arg-type]
    records = [Original(encode(submission()), topic="t", partition=0, offset=0)]
    with contextlib.suppress(Exception):  # what matters is the watchdog below
        await runtime._guarded(lambda: enricher.prepare_batch(records))
    assert tripped.is_set()  # 1.1 s in, while the attempt still ran


async def test_overlapping_batches_with_the_same_submission_publish_one_answer_and_ask_once() -> None:
    # The agent prepares batch N+1 while batch N completes: both may compute the same re-sent
    # submission. The first stored answer is the one both publish, and its MD is asked once.
    enricher, store, clf = make({"file:///img/main.jpg": b"T202:0.99"})
    raw = encode(submission(declared="T203"))
    first = await enricher.prepare_batch([Original(raw)])
    second = await enricher.prepare_batch([Original(raw)])
    assert clf.calls == 2 and store.results == {}  # preparing publishes and stores nothing
    (a,) = await enricher.complete_batch(first)
    await store.mark_approvals_published([a.approval_submission or ""])  # after N's commit
    (b,) = await enricher.complete_batch(second)
    assert [o.topic for o in a.outputs] == [topics.ENRICHED, topics.APPROVAL_REQUESTS]
    assert [o.topic for o in b.outputs] == [topics.ENRICHED]
    assert second.computed[0] != first.computed[0]  # two computations (different enriched_at) ...
    assert b.outputs[0].value == a.outputs[0].value  # ... one answer: the first one stored


async def test_completing_a_batch_again_after_a_failure_gives_the_same_outcomes() -> None:
    enricher, _, _ = make({"file:///img/main.jpg": b"T202:0.99"})
    prepared = await enricher.prepare_batch([Original(encode(submission(declared="T203")))])
    once = await enricher.complete_batch(prepared)
    again = await enricher.complete_batch(prepared)  # a retry after the transaction failed
    assert [o.topic for o in once[0].outputs] == [topics.ENRICHED, topics.APPROVAL_REQUESTS]
    # The request was claimed but not marked published (that happens after the commit): a retry
    # must publish it again, or the MD would never be asked.
    assert [o.topic for o in again[0].outputs] == [topics.ENRICHED, topics.APPROVAL_REQUESTS]
    assert again[0].outputs[0].value == once[0].outputs[0].value


async def test_the_batch_gate_holds_a_rebalance_until_no_batch_is_in_flight() -> None:
    import asyncio

    from streams.app import BatchGate

    gate = BatchGate()
    gate.enter()  # batch N completing
    gate.enter()  # batch N+1 being prepared
    drained = asyncio.create_task(gate.drain())
    await asyncio.sleep(0.01)
    admitted = asyncio.create_task(gate.admit())
    await asyncio.sleep(0.01)
    assert not drained.done() and not admitted.done()  # nothing new starts while draining
    gate.leave()
    await asyncio.sleep(0.01)
    assert not drained.done()
    gate.leave()
    await asyncio.wait_for(drained, 1)
    await asyncio.wait_for(admitted, 1)


async def test_a_shutdown_drains_the_gate_and_then_admits_nothing() -> None:
    import asyncio

    from streams.app import BatchGate

    gate = BatchGate()
    gate.enter()
    closing = asyncio.create_task(gate.drain(reopen=False))
    await asyncio.sleep(0.01)
    assert not closing.done()  # the consumer must not leave the group with a batch in flight
    gate.leave()
    await asyncio.wait_for(closing, 1)
    assert await asyncio.wait_for(gate.admit(), 1) is False
    await gate.drain()  # a rebalance during the shutdown does not reopen it
    assert await gate.admit() is False


async def test_a_rebalance_while_stopping_waits_for_the_batch_in_flight() -> None:
    """faust itself skips the revocation signal once the app is stopping, so without EnrichApp the
    consumer rejoined at once and the batch in flight was answered again by the new owner."""
    import asyncio

    from hanger.settings import Settings
    from streams.app import create_app

    app = create_app(Settings(kafka_bootstrap="127.0.0.1:1"))  # no connection is made
    gate = app.gate
    gate.enter()  # a batch is being published
    app._stopped.set()  # SIGTERM: faust is stopping the app
    assert app.should_stop
    revoking = asyncio.create_task(app._on_partitions_revoked(set()))
    await asyncio.sleep(0.05)
    assert not revoking.done()  # the consumer must not rejoin the group yet
    gate.leave()  # the batch's transaction committed
    await asyncio.wait_for(revoking, 1)
    assert await gate.admit() is False  # and nothing new is taken after the stop began


async def test_a_rebalance_while_stopping_leaves_the_consumer_to_the_stop() -> None:
    """faust would close the consumer's client mid-rebalance: no LeaveGroup reaches the broker and
    the partitions just assigned to the stopping member idle until its session times out."""
    from hanger.settings import Settings
    from streams.app import create_app

    app = create_app(Settings(kafka_bootstrap="127.0.0.1:1"))  # no connection is made
    closed: list[bool] = []
    app.consumer.close = lambda: closed.append(True)  # type: ignore[method-assign]
    app._stopped.set()
    await app._on_partitions_revoked(set())
    await app._on_partitions_assigned(set())
    assert closed == []


def test_records_delivered_again_after_a_rebalance_are_taken_once() -> None:
    from hanger.kafka import Original
    from streams.app import OffsetGuard

    def records(partition: int, offsets: range) -> list[Original]:
        return [Original(b"v", b"k", "subs", partition, o) for o in offsets]

    guard = OffsetGuard()
    # A batch assembled just before a rebalance (offsets 10-14 of partition 0), then faust seeks
    # back to the committed offset 10 and delivers 10-17 again, mixed with partition 1.
    assert [r.offset for r in guard.admit(records(0, range(10, 15)))] == [10, 11, 12, 13, 14]
    again = guard.admit(records(0, range(10, 18)) + records(1, range(0, 3)))
    assert [(r.partition, r.offset) for r in again] == [
        (0, 15), (0, 16), (0, 17), (1, 0), (1, 1), (1, 2)]
    assert guard.admit(records(0, range(10, 18))) == []
    # A partition that comes back after another worker committed further resumes there.
    assert [r.offset for r in guard.admit(records(1, range(40, 42)))] == [40, 41]


async def test_a_listing_with_many_photos_costs_at_most_classify_max_images_inferences() -> None:
    from hanger.events import ImageRef, ImageRole

    files: dict[str, bytes | Exception] = {f"file:///img/{i}.jpg": b"T101:0.99" for i in range(30)}
    fetched: list[str] = []
    enricher, _, _ = make(files)
    fetch = enricher.fetcher.fetch

    async def spy(uri: str) -> bytes:
        fetched.append(uri)
        return await fetch(uri)

    enricher.fetcher.fetch = spy  # type: ignore[method-assign]
    seen: list[int] = []
    classify = enricher.classifier.classify_images

    async def count(images: Sequence[bytes]) -> object:
        seen.append(len(images))
        return await classify(images)

    enricher.classifier.classify_images = count  # type: ignore[method-assign,assignment]
    enricher.classify_max_images = 3
    images = tuple(ImageRef(uri=f"file:///img/{i}.jpg", role=ImageRole.DETAIL if i else ImageRole.MAIN,
                            order=29 - i) for i in range(30))  # the main photo listed with the last order
    outcome = await enricher.handle(Original(encode(submission(declared="T101").model_copy(
        update={"images": images}))))
    assert seen == [3]
    assert fetched == ["file:///img/0.jpg", "file:///img/29.jpg", "file:///img/28.jpg"]  # main first
    enriched = outcome.outputs[0].value
    assert isinstance(enriched, ProductEnriched) and enriched.route.kind == RouteKind.AUTO_APPROVED


@pytest.mark.parametrize(("failure", "code"), [
    (TransientError("db_unavailable", "cannot reach PostgreSQL"), 75),  # retries ran out
    (KeyError("a bug"), 70),
])
async def test_a_failure_escaping_the_agent_exits_the_process(failure: Exception, code: int) -> None:
    """faust would restart the agent in the same process: never taking a record again, or resuming
    after records it took and never committed. The worker exits for its supervisor instead."""
    from streams.app import exit_on_escape

    async def body() -> None:
        raise failure

    exits: list[int] = []
    await exit_on_escape(body, exit=exits.append)
    assert exits == [code]


async def test_a_stop_or_a_clean_end_of_the_agent_does_not_exit() -> None:
    import asyncio

    from streams.app import exit_on_escape

    exits: list[int] = []

    async def done() -> None:
        return None

    async def cancelled() -> None:
        raise asyncio.CancelledError

    await exit_on_escape(done, exit=exits.append)
    with pytest.raises(asyncio.CancelledError):
        await exit_on_escape(cancelled, exit=exits.append)
    assert exits == []


async def test_fail_stop_passes_the_result_through_and_exits_on_what_escapes() -> None:
    """The batch phases and the agent body share one fail-stop: a value comes back unchanged."""
    from hanger.errors import TransientError
    from streams.app import fail_stop

    exits: list[int] = []

    async def three() -> int:
        return 3

    async def flaky() -> int:
        raise TransientError("db_unavailable", "down")

    assert await fail_stop("a phase", three, exit=exits.append) == 3
    assert exits == []
    await fail_stop("a phase", flaky, exit=exits.append)
    assert exits == [75]
