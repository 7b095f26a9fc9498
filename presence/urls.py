from django.urls import path

from presence import apis

urlpatterns = [
    path("presence/", apis.PresenceApi.as_view(), name="presence"),
    path("presence/states/", apis.PresenceStatesApi.as_view(), name="presence-states"),
    path("presence/<str:username>/", apis.PresenceDetailApi.as_view(), name="presence-detail"),
    path("archive/presence-log/", apis.PresenceLogApi.as_view(), name="presence-log"),
    path("contacts/", apis.ContactListApi.as_view(), name="contacts"),
    path("contact-groups/", apis.ContactGroupListApi.as_view(), name="contact-groups"),
    path("contact-groups/<str:name>/", apis.ContactGroupDetailApi.as_view(), name="contact-group"),
    path("contacts/<str:username>/", apis.ContactDetailApi.as_view(), name="contact"),
]
