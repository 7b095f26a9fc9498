from django.urls import path

from supervision import apis

urlpatterns = [
    path("policies/", apis.SupervisionPolicyListApi.as_view(), name="supervision-policies"),
    path(
        "policies/<int:policy_id>/",
        apis.SupervisionPolicyDetailApi.as_view(),
        name="supervision-policy",
    ),
    path("items/", apis.SupervisionItemListApi.as_view(), name="supervision-items"),
    path("items/<int:item_id>/", apis.SupervisionItemDetailApi.as_view(), name="supervision-item"),
    path(
        "items/<int:item_id>/claim/",
        apis.SupervisionItemClaimApi.as_view(),
        name="supervision-item-claim",
    ),
    path(
        "items/<int:item_id>/resolve/",
        apis.SupervisionItemResolveApi.as_view(),
        name="supervision-item-resolve",
    ),
    path(
        "items/<int:item_id>/reassign/",
        apis.SupervisionItemReassignApi.as_view(),
        name="supervision-item-reassign",
    ),
]
