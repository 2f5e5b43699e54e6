from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Real-time payment events"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (registers the post_save receivers)
