"""GET /api/payment-events/?after=: the websocket's frames for polling clients, filtered by
the policy, paged by a cursor that never skips an event."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from payments.services import settlement_record
from realtime.models import PaymentEvent
from realtime.retention import payment_events_prune

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(make_transaction, admin_user, sales, sales2, cashier, cashier2):
    """sam's sale paid in part by carla, and sofia's untouched sale (everyone in the cast
    already holding their role: an audience is fixed when an event is written)."""
    sam = make_transaction("1500.00", created_by=sales)
    settlement_record(transaction=sam, amount="1000.00", payment_mode="cash", recorded_by=cashier)
    sofia = make_transaction("700.00", created_by=sales2)
    return {"sam": sam, "sofia": sofia}


def poll(client, **params):
    resp = client.get("/api/payment-events/", params)
    assert resp.status_code == 200, resp.content
    assert resp.headers["Content-Type"] == "application/json"
    return resp, json.loads(resp.content)


def test_items_are_the_websocket_frames_with_money_to_two_places(api, admin_user, history):
    resp, page = poll(api(admin_user))
    stored = list(PaymentEvent.objects.order_by("id"))
    assert [item["event_id"] for item in page["events"]] == [e.pk for e in stored]
    assert page["events"] == [json.loads(e.frame_text()) for e in stored]
    assert page["next_after"] == stored[-1].pk
    assert (page["has_more"], page["resync_required"]) == (False, False)
    # The raw body carries each frame verbatim: money keeps its two places.
    for event in stored:
        assert event.frame_text().encode() in resp.content
    assert b'"paid_amount":1000.00' in resp.content
    status = [i for i in page["events"] if i["type"] == "payment_status_updated"]
    assert [(i["data"]["payment_status"], i["data"]["balance_amount"]) for i in status] == [
        ("partial", 500.0)
    ]


# Whose events each user may see (SPEC 3 and 6): sam's sale was in the cashiers' queue until
# carla's payment made it hers, so both cashiers could see it before that change; sofia's
# sale is still in the queue. Each sales agent sees their own.
SEES = {
    "admin_user": ("sam", "sofia"),
    "cashier": ("sam", "sofia"),
    "cashier2": ("sam", "sofia"),
    "sales": ("sam",),
    "sales2": ("sofia",),
}


@pytest.mark.parametrize("who", sorted(SEES))
def test_each_user_gets_exactly_the_events_the_policy_allows(api, request, history, who):
    _, page = poll(api(request.getfixturevalue(who)))
    ids = {
        name: list(
            PaymentEvent.objects.filter(transaction_id=txn.pk)
            .order_by("id")
            .values_list("id", flat=True)
        )
        for name, txn in history.items()
    }
    assert (len(ids["sam"]), len(ids["sofia"])) == (3, 1)  # created, paid (two topics); created
    expected = sorted(i for name in SEES[who] for i in ids[name])
    assert [i["event_id"] for i in page["events"]] == expected


def test_sales_agent_sees_only_their_own(api, sales2, history):
    _, page = poll(api(sales2))
    assert {i["data"]["transactionId"] for i in page["events"]} == {history["sofia"].pk}
    # The cursor still moves past events sofia may not see, so she never rescans them.
    assert page["next_after"] == PaymentEvent.objects.latest("id").pk


def test_cursor_pages_through_every_event_once(api, admin_user, history):
    client = api(admin_user)
    seen, after = [], 0
    for _ in range(10):
        _, page = poll(client, after=after, limit=2)
        seen += [i["event_id"] for i in page["events"]]
        after = page["next_after"]
        if not page["has_more"]:
            break
    assert seen == list(PaymentEvent.objects.order_by("id").values_list("id", flat=True))
    _, page = poll(client, after=after)
    assert (page["events"], page["next_after"]) == ([], after)


def test_topic_filter(api, admin_user, history):
    _, page = poll(api(admin_user), topic="payment_status")
    assert {i["type"] for i in page["events"]} == {"payment_status_updated"}
    _, page = poll(api(admin_user), topic="transactions")
    assert {i["type"] for i in page["events"]} == {"transaction_updated"}


def test_limit_is_capped_at_500(api, admin_user, history):
    template = PaymentEvent.objects.first()
    PaymentEvent.objects.bulk_create(
        PaymentEvent(
            topic=template.topic,
            frame_type=template.frame_type,
            transaction_id=template.transaction_id,
            data=template.data,
            created_at=template.created_at,
        )
        for _ in range(510)
    )
    _, page = poll(api(admin_user), limit=100000)
    assert len(page["events"]) == 500
    assert page["has_more"] is True
    assert page["next_after"] == page["events"][-1]["event_id"]


def test_an_operators_settle_delay_holds_back_young_events(api, admin_user, settings, history):
    """Not needed for correctness (ids commit in id order, so polls see events at once by
    default), but honoured when set: events younger than the delay wait for the next poll."""
    settings.ESCASHOP_EVENT_POLL_SETTLE_SECONDS = 60
    client = api(admin_user)
    _, page = poll(client, after=0)
    assert (page["events"], page["next_after"]) == ([], 0)
    PaymentEvent.objects.update(created_at=timezone.now() - dt.timedelta(seconds=61))
    _, page = poll(client, after=0)
    assert len(page["events"]) == PaymentEvent.objects.count()


def test_a_cursor_older_than_the_retained_log_asks_for_a_resync(api, admin_user, history):
    client = api(admin_user)
    _, before = poll(client)
    oldest_kept = before["events"][-1]["event_id"]
    PaymentEvent.objects.filter(id__lt=oldest_kept).update(
        created_at=timezone.now() - dt.timedelta(days=30)
    )
    assert payment_events_prune(days=7) > 0
    _, page = poll(client, after=0)
    assert page["resync_required"] is True
    assert page["events"] == []
    assert page["next_after"] == oldest_kept  # refetch state over REST, then poll from here
    _, page = poll(client, after=oldest_kept - 1)
    assert page["resync_required"] is False
    assert [i["event_id"] for i in page["events"]] == [oldest_kept]


def test_a_log_pruned_empty_hands_out_a_cursor_that_stays_valid(api, admin_user, cashier, history):
    """A shop closed longer than the retention: every event pruned. The resync's cursor is
    the newest id the log held, and polling from it is quiet, not another resync."""
    client = api(admin_user)
    newest = PaymentEvent.objects.order_by("-id").first().pk
    PaymentEvent.objects.update(created_at=timezone.now() - dt.timedelta(days=30))
    assert payment_events_prune(days=7) > 0
    assert not PaymentEvent.objects.exists()
    for after in (0, newest - 1, newest + 1):
        _, page = poll(client, after=after)
        assert (page["resync_required"], page["next_after"]) == (True, newest), after
    _, page = poll(client, after=newest)
    assert (page["resync_required"], page["events"], page["next_after"]) == (False, [], newest)
    sale = history["sofia"]
    settlement_record(transaction=sale, amount="100.00", payment_mode="cash", recorded_by=cashier)
    _, page = poll(client, after=newest)
    assert page["resync_required"] is False
    assert [i["event_id"] for i in page["events"]] == list(
        PaymentEvent.objects.order_by("id").values_list("id", flat=True)
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": -1}, "after"),
        ({"after": "x"}, "after"),
        ({"limit": 0}, "limit"),
        ({"topic": "x"}, "topic"),
    ],
)
def test_bad_parameters_are_400_naming_them(api, admin_user, params, field):
    resp = api(admin_user).get("/api/payment-events/", params)
    assert resp.status_code == 400
    assert list(resp.json()) == [field]


def test_a_cursor_past_every_event_ever_logged_asks_for_a_resync(api, admin_user, history):
    """A cursor from another log (the database was restored from an older backup, say)
    must not sit waiting for ids to catch up while every new event goes by."""
    client = api(admin_user)
    newest = PaymentEvent.objects.order_by("-id").first().pk
    _, page = poll(client, after=newest + 1000)
    assert page["resync_required"] is True
    assert page["events"] == []
    assert page["next_after"] == newest  # everything settled: start over from the newest
    _, page = poll(client, after=page["next_after"])
    assert (page["resync_required"], page["events"]) == (False, [])
    # A cursor at the newest event is up to date, not from another log.
    _, page = poll(client, after=newest)
    assert page["resync_required"] is False


def test_a_user_made_a_cashier_later_gets_only_the_queue_written_since(
    api, history, sales2, cashier, make_transaction
):
    """SPEC section 6: an event's audience is fixed when it is written. sofia, in sales,
    could not see the cashiers' queue then; made a cashier now, she does not get its old
    events (sam's sale, since taken by carla, whose payment and notes she never saw), only
    those written after, and still her own sale's."""
    from django.contrib.auth.models import Group

    sales2.groups.add(Group.objects.get(name="cashier"))
    later = make_transaction("300.00")  # in the queue, written after she became a cashier
    _, page = poll(api(sales2))
    mine = PaymentEvent.objects.filter(transaction_id__in=[history["sofia"].pk, later.pk])
    assert [i["event_id"] for i in page["events"]] == sorted(mine.values_list("id", flat=True))
    # carla, a cashier all along, still gets the queue's history.
    _, page = poll(api(cashier))
    assert {i["data"]["transactionId"] for i in page["events"]} == {
        history["sam"].pk,
        history["sofia"].pk,
        later.pk,
    }
