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
    path(
        "messages/<int:message_id>/reactions/",
        apis.MessageReactionAddApi.as_view(),
        name="message-reactions",
    ),
    path(
        "messages/<int:message_id>/reactions/<str:emoji>/",
        apis.MessageReactionRemoveApi.as_view(),
        name="message-reaction",
    ),
    path("search/", apis.SearchApi.as_view(), name="search"),
    path("me/notices/", apis.NoticePreferenceApi.as_view(), name="me-notices"),
    path(
        "conversations/<int:conversation_id>/files/",
        apis.FileUploadApi.as_view(),
        name="conversation-files",
    ),
    path("files/<int:file_id>/download/", apis.FileDownloadApi.as_view(), name="file-download"),
    path("rooms/", apis.RoomListCreateApi.as_view(), name="rooms"),
    path("rooms/<int:room_id>/", apis.RoomDetailApi.as_view(), name="room"),
    path("rooms/<int:room_id>/join/", apis.RoomJoinApi.as_view(), name="room-join"),
    path("rooms/<int:room_id>/leave/", apis.RoomLeaveApi.as_view(), name="room-leave"),
    path("rooms/<int:room_id>/members/", apis.RoomMemberListAddApi.as_view(), name="room-members"),
    path(
        "rooms/<int:room_id>/members/<str:username>/",
        apis.RoomMemberDetailApi.as_view(),
        name="room-member",
    ),
    path(
        "rooms/<int:room_id>/invitations/",
        apis.RoomInvitationCreateApi.as_view(),
        name="room-invitations",
    ),
    path("invitations/", apis.InvitationListApi.as_view(), name="invitations"),
    path(
        "invitations/<int:invitation_id>/accept/",
        apis.InvitationAcceptApi.as_view(),
        name="invitation-accept",
    ),
    path(
        "invitations/<int:invitation_id>/decline/",
        apis.InvitationDeclineApi.as_view(),
        name="invitation-decline",
    ),
    path("categories/", apis.CategoryListApi.as_view(), name="categories"),
    path("feeds/", apis.FeedListCreateApi.as_view(), name="feeds"),
    path("feeds/<int:feed_id>/", apis.FeedDetailApi.as_view(), name="feed"),
    path("feeds/<int:feed_id>/matches/", apis.FeedMatchListApi.as_view(), name="feed-matches"),
    path("feeds/<int:feed_id>/read/", apis.FeedReadApi.as_view(), name="feed-read"),
]
