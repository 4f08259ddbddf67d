import datetime as dt

import pytest

from hanger.errors import InputError
from hanger.events import Portal
from streams.replay import matches, parse_filters, parse_point
from tests.unit.factories import submission

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def test_points_are_offsets_times_or_ages() -> None:
    assert parse_point("1234") == 1234
    assert parse_point("7d", now=NOW) == NOW - dt.timedelta(days=7)
    assert parse_point("90m", now=NOW) == NOW - dt.timedelta(minutes=90)
    assert parse_point("2026-11-01T09:00:00+09:00") == dt.datetime(2026, 11, 1, 0, 0, tzinfo=dt.UTC)
    assert parse_point("2026-11-01") == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert parse_point(None) is None
    with pytest.raises(InputError, match="bad_range"):
        parse_point("last tuesday")


def test_filters_match_nested_submission_fields() -> None:
    tmon = submission(portal=Portal.TMON)
    assert matches(tmon, parse_filters(["portal=tmon"]))
    assert not matches(tmon, parse_filters(["portal=wemakeprice"]))
    assert matches(tmon, parse_filters(["declared_category.taxonomy_id=T101", "seller_id=seller-1"]))
    with pytest.raises(InputError, match="bad_filter"):
        parse_filters(["portal"])
