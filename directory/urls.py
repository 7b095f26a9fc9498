from django.urls import path

from directory import apis

urlpatterns = [
    path("auth/token/", apis.TokenApi.as_view(), name="auth-token"),
    path("me/", apis.MeApi.as_view(), name="me"),
    path("me/preferences/", apis.PreferencesApi.as_view(), name="me-preferences"),
    path("users/", apis.UserListApi.as_view(), name="users"),
]
