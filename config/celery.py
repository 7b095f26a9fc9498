"""Celery application: broker from CELERY_BROKER_URL (RabbitMQ when scaled) or REDIS_URL; eager
when neither is set."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("parley")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
