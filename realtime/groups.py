"""The channel-layer group every change's events travel through (``^[a-zA-Z0-9._-]{1,99}$``).

One group for all events, joined once per daphne process by its relay (``realtime.relay``):
frames go out strictly in event-id order, and a process can only tell a missing event
from one that is not its connections' business if it sees them all. Who may see what is
decided per connection, in memory, by the event's audience (``realtime.delivery``).
"""

from __future__ import annotations

EVENTS_GROUP = "payments.events"
