"""Values as exports write them, read into canonical fields: times in a processor's own shape, and the words
processors and shops use for a payment's type and an order's status."""

import pytest

from api.records.fields import _order_status, _payment_type
from api.records.written_times import NotATime, read


@pytest.mark.parametrize(
    ("written", "order", "utc"),
    [
        ("03/04/2021 17:30:00 PST", "mdy", "2021-03-05T01:30:00+00:00"),
        ("03/04/2021 17:30:00 PST", "dmy", "2021-04-04T01:30:00+00:00"),
        ("3/14/2021 1:59:59 AM PST", "mdy", "2021-03-14T09:59:59+00:00"),
        ("11/07/2021 01:30:00 PDT", "mdy", "2021-11-07T08:30:00+00:00"),  # the hour that comes twice: by its zone
        ("11/07/2021 01:30:00 PST", "mdy", "2021-11-07T09:30:00+00:00"),
        ("03/04/2021 5:30 PM", "mdy", "2021-03-04T22:30:00+00:00"),  # no zone: the case's (New York)
        ("12/01/2021 12:00 AM GMT", "mdy", "2021-12-01T00:00:00+00:00"),
        ("04.03.21 09:15 +0100", "dmy", "2021-03-04T08:15:00+00:00"),
        ("2021/03/04 10:00 Europe/Paris", None, "2021-03-04T09:00:00+00:00"),
        ("2021-03-04 10:00 JST", None, "2021-03-04T01:00:00+00:00"),
        ("March 4, 2021", None, "2021-03-04T05:00:00+00:00"),
        ("4 Mar 2021 09:15 UTC+8", None, "2021-03-04T01:15:00+00:00"),
        ("Sept 30th 2021, 23:59 GMT-07:00", None, "2021-10-01T06:59:00+00:00"),
    ],
)
def test_times_are_read_as_exports_write_them(written, order, utc):
    assert read(written, "America/New_York", order).isoformat() == utc


@pytest.mark.parametrize(
    ("written", "order", "says"),
    [
        ("03/04/2021", None, "month then day, or day then month? Say the file's date order"),
        ("03/04/2021 10:00 IST", "mdy", "IST may be India, Israel or Ireland time; write the offset"),
        ("02/30/2021", "mdy", "there is no day 30 of month 2 in 2021"),
        ("03/04/2021 13:30 PM", "mdy", "an hour before AM or PM is 1 to 12"),
        ("03/04/2021 25:00", "mdy", "is not a time of day"),
        ("03/04/2021 10:00 Mars/Olympus", "mdy", "is not a time zone this reads"),
        ("03/04/2021 10:00 +15:00", "mdy", "is not an offset from UTC"),
        ("Smarch 4, 2021", None, "'smarch' is not the name of a month"),
        ("yesterday", None, "is not a time: write it as ISO 8601"),
        ("03/04/021", "mdy", "the year of a date must have four digits (or two)"),
        ("03/04/0099", "mdy", "the year 99 is outside 1000 to 9998"),
    ],
)
def test_a_time_that_cannot_be_told_is_refused_saying_why(written, order, says):
    with pytest.raises(NotATime) as refused:
        read(written, "UTC", order)
    assert says in str(refused.value)


@pytest.mark.parametrize(
    ("written", "read_as"),
    [
        ("payment refund", "refund"),
        ("express checkout payment", "payment"),
        ("mass pay payment", "payment"),
        ("invoice payment", "payment"),
        ("payment reversal", "reversal"),
        ("chargeback", "reversal"),
        ("general currency conversion", "other"),
        ("hold on balance for dispute investigation", "other"),
        ("cancellation of hold for dispute resolution", "other"),
        ("general withdrawal", "other"),
        ("invoice sent", "other"),
        ("7", "other"),
    ],
)
def test_a_payments_type_is_read_by_its_words(written, read_as):
    assert _payment_type(written) == read_as


@pytest.mark.parametrize(
    ("written", "read_as"),
    [("canceled", "cancelled"), ("unshipped", "placed"), ("partially shipped", "shipped"), ("pending", "placed"),
     ("return requested", "returned"), ("refunded", None)],
)  # fmt: skip
def test_an_orders_status_is_read_by_its_words_or_refused(written, read_as):
    assert _order_status(written) == read_as
