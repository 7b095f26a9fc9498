from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "IM and persistent chat"
