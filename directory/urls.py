from django.urls import path

from directory import apis

urlpatterns = [
    path("auth/token/", apis.TokenApi.as_view(), name="auth-token"),
    path("me/", apis.MeApi.as_view(), name="me"),
    path("me/photo/", apis.MePhotoApi.as_view(), name="me-photo"),
    path("me/mailbox/", apis.MailboxSyncApi.as_view(), name="me-mailbox"),
    path("me/preferences/", apis.PreferencesApi.as_view(), name="me-preferences"),
    path("users/", apis.UserListApi.as_view(), name="users"),
    path("users/<str:username>/photo/", apis.UserPhotoApi.as_view(), name="user-photo"),
]
