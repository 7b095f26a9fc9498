from django.urls import path

from chat import apis

urlpatterns = [
    path("conversations/", apis.ConversationListCreateApi.as_view(), name="conversations"),
    path(
        "conversations/<int:conversation_id>/",
        apis.ConversationDetailApi.as_view(),
        name="conversation",
    ),
    path(
        "conversations/<int:conversation_id>/participants/",
        apis.ParticipantAddApi.as_view(),
        name="conversation-participants",
    ),
    path(
        "conversations/<int:conversation_id>/participants/<str:username>/",
        apis.ParticipantLeaveApi.as_view(),
        name="conversation-participant",
    ),
    path(
        "conversations/<int:conversation_id>/messages/",
        apis.MessageListCreateApi.as_view(),
        name="conversation-messages",
    ),
    path(
        "conversations/<int:conversation_id>/read/",
        apis.ConversationReadApi.as_view(),
        name="conversation-read",
    ),
    path("messages/<int:message_id>/", apis.MessageDetailApi.as_view(), name="message"),
    path("search/", apis.SearchApi.as_view(), name="search"),
]
