"""``GET /api/payment-events/?after=<event_id>``: the websocket's event log, for polling clients.

Each item is exactly the frame a websocket client receives (``PaymentEvent.frame_text``, so
money keeps its two places), filtered by the one policy (realtime.selectors). The client
passes the ``next_after`` of one answer as ``after`` of the next; every event it may see then
arrives once, in order.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from .choices import FrameType, Topic
from .models import PaymentEvent
from .selectors import (
    payment_events_visible_to,
    payment_log_newest,
    payment_log_pruned_through,
)

MAX_LIMIT = 500


class PaymentEventQuery(serializers.Serializer):
    after = serializers.IntegerField(
        min_value=0,
        max_value=2**63 - 1,
        default=0,
        help_text=(
            "The last event_id already seen (0: from the first event; once older events "
            "have been pruned, 0 answers resync_required, as the websocket's `since` does)."
        ),
    )
    limit = serializers.IntegerField(
        min_value=1,
        max_value=2**31 - 1,
        default=100,
        help_text=f"Events per answer; at most {MAX_LIMIT} are sent whatever is asked.",
    )
    topic = serializers.ChoiceField(
        choices=Topic.choices, required=False, help_text="Only this stream (default: both)."
    )


class EventFrame(serializers.Serializer):
    type = serializers.ChoiceField(choices=FrameType.choices)
    event_id = serializers.IntegerField()
    data = serializers.DictField(
        help_text=(
            "As in the websocket protocol (SPEC section 5): money is a JSON number in "
            "payment_status_updated frames; transaction_updated frames embed the REST "
            "representations, with money as strings."
        )
    )


class PaymentEventPage(serializers.Serializer):
    events = EventFrame(many=True)
    next_after = serializers.IntegerField(help_text="Pass as `after` in the next request.")
    has_more = serializers.BooleanField(help_text="More events wait: ask again at once.")
    resync_required = serializers.BooleanField(
        help_text=(
            "`after` is older than the retained log (events were missed), or newer than any "
            "event it ever held (it is not from this log). Refetch state over REST, then poll "
            "with `after=next_after`."
        )
    )


class PaymentEventsView(APIView):
    """The payment event log (the frames the websocket sends), for polling clients: the
    events this user may see with ``event_id > after``, oldest first, as soon as they
    commit (after ESCASHOP_EVENT_POLL_SETTLE_SECONDS, 0 unless set)."""

    error_responses = {"get": {400: "A query parameter is invalid."}}

    @extend_schema(
        parameters=[PaymentEventQuery],
        responses=PaymentEventPage,
        operation_id="payment_events_list",
    )
    def get(self, request: Request) -> HttpResponse:
        query = PaymentEventQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        after = query.validated_data["after"]
        limit = min(query.validated_data["limit"], MAX_LIMIT)
        settled = settled_horizon()
        events = list(
            payment_events_visible_to(
                request.user, after=after, topic=query.validated_data.get("topic")
            ).filter(id__lte=settled)[: limit + 1]
        )
        # Read after the page, so that a prune committed before the page was read is seen.
        pruned_through = payment_log_pruned_through()
        # Pruned events all settled long ago: with every event pruned the horizon is still
        # the newest id the log held, so the cursor a resync hands out stays valid.
        horizon = max(settled, pruned_through)
        has_more = resync = False
        if after < pruned_through:  # events above `after` were pruned
            resync, events = True, []
        else:
            has_more = len(events) > limit
            events = events[:limit]
            if (
                not events
                and after > horizon
                and after > payment_log_newest(pruned_through=pruned_through)
            ):
                # A cursor past the newest event ever logged is not from this log (the
                # database was restored or reset): without this it would wait for ids to
                # catch up, missing everything until then. Start over from the horizon.
                resync, after = True, horizon
        next_after = events[-1].id if has_more else max(after, horizon)
        # Frames are spliced in as stored: decoding and re-encoding would turn 1500.00 into
        # 1500.0. Everything around them is plain ints and booleans.
        frames = ",".join(event.frame_text() for event in events)
        body = (
            f'{{"events":[{frames}],"next_after":{next_after},'
            f'"has_more":{json.dumps(has_more)},"resync_required":{json.dumps(resync)}}}'
        )
        return HttpResponse(body, content_type="application/json")


def settled_horizon() -> int:
    """The newest event id a poll may hand out: the newest one older than
    ESCASHOP_EVENT_POLL_SETTLE_SECONDS.

    Event ids commit in id order (``realtime.events._insert``): once an id is visible,
    every lower one has committed or never will, so a cursor at the newest visible id never
    passes one that commits later, and no delay is needed (the default, 0). A delay only
    makes pollers see events later; it remains for an operator who wants that.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.ESCASHOP_EVENT_POLL_SETTLE_SECONDS)
    newest = (
        PaymentEvent.objects.filter(created_at__lte=cutoff)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return newest or 0
