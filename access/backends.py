"""django-axes's lockout check, for logins that arrive over HTTP."""

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class LoginLockoutBackend(AxesStandaloneBackend):
    """Refuses a locked-out username from the address it failed from; the next backend checks passwords.

    ``authenticate()`` without a request (the test client's ``login()``, a shell) is not an attempt
    anyone can repeat from outside, and axes cannot key it by address: it goes straight to the next
    backend instead of failing.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        super().authenticate(request, username, password, **kwargs)
        return None
