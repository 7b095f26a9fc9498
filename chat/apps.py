from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "IM and persistent chat"

    def ready(self) -> None:
        # History search is a collection of the one search core; chat gives it the messages.
        from archiving.search.backend import message_source_register
        from chat.selectors.history import MessageDocuments

        message_source_register(MessageDocuments())
