from django.urls import path

from . import views

app_name = "integrations"

urlpatterns = [
    path("", views.history_upload, name="import-upload"),
    path("<int:pk>/", views.history_import_detail, name="import-detail"),
]
