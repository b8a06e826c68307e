from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from access.decorators import role_required
from access.roles import Role


@role_required(Role.ANALYST)
def reporting_dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "reporting/dashboard.html", {})
