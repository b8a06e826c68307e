"""Domain errors. Interfaces map them to responses: IllegalTransition is a 409, the rest 400."""


class FunnelError(Exception):
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class IllegalTransition(FunnelError):
    code = "illegal_transition"


class InvalidEffectiveTime(FunnelError):
    code = "invalid_effective_time"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="at")


class InvalidInput(FunnelError):
    code = "invalid"
