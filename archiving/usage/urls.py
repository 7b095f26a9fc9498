from django.urls import path

from archiving.usage import apis

urlpatterns = [
    path("usage/", apis.UsageReportApi.as_view(), name="reports-usage"),
]
