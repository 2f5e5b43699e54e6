"""The load generator behind ``manage.py loadtest`` (see docs/performance.md).

It drives a live deployment through its public surfaces only, the REST API and ``/ws/``:
watchers are websocket clients that authenticate and subscribe to ``payment_status``; the
writer records settlements over REST at a given rate and concurrency; the two are matched by
settlement id afterwards. Nothing here imports the server's code paths: the same tool
measures a deployment on another host.
"""
