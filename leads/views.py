from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from access.decorators import role_required
from access.roles import Role


@role_required(Role.SALES_REP, Role.ANALYST)
def leads_list(request: HttpRequest) -> HttpResponse:
    return render(request, "leads/list.html", {})
