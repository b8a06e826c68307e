from django.urls import path

from . import api

urlpatterns = [
    path("opportunities/", api.OpportunityList.as_view(), name="api-opportunity-list"),
    path("opportunities/<int:pk>/", api.OpportunityDetail.as_view(), name="api-opportunity-detail"),
    path("opportunities/<int:pk>/qualify/", api.Qualify.as_view(), name="api-opportunity-qualify"),
    path("opportunities/<int:pk>/disqualify/", api.Disqualify.as_view(), name="api-opportunity-disqualify"),
    path("opportunities/<int:pk>/win/", api.Win.as_view(), name="api-opportunity-win"),
    path("opportunities/<int:pk>/lose/", api.Lose.as_view(), name="api-opportunity-lose"),
]
