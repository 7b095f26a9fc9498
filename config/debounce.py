"""Queue a draining Celery task at most once per delay per process."""

import time

from django.conf import settings
from django.utils.module_loading import import_string


class DebouncedRun:
    """Call after commit to queue one run of a task that drains a whole outbox.

    One queued run drains every row committed before it starts, so a process need not queue
    one per row: it queues a run `delay` seconds ahead and queues no other until that run is
    due. The beat sweep is the backstop if a run is lost. With eager tasks (tests) every call
    runs the task at once. The task is named by dotted path, since task modules import the
    modules that queue them.
    """

    def __init__(self, task_path: str, *, delay: float) -> None:
        self.task_path = task_path
        self.delay = delay
        self.due_at = 0.0
        # Django logs a failed robust on_commit callback by its __qualname__, which instances
        # lack: without it a broker outage (apply_async raising) turned the log line into an
        # AttributeError, and a message already stored into a 500.
        self.__qualname__ = f"DebouncedRun({task_path})"

    def __call__(self) -> None:
        task = import_string(self.task_path)  # looked up per call, as a direct import would be
        if settings.CELERY_TASK_ALWAYS_EAGER:
            task.delay()
            return
        now = time.monotonic()
        if now < self.due_at:
            return
        self.due_at = now + self.delay
        task.apply_async(countdown=self.delay)
