"""The machinery every stage change shares: who acted, when it takes effect, is it legal, the log row."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from .choices import ActorKind
from .errors import IllegalTransition, InvalidEffectiveTime
from .models import StageTransition

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


@dataclass(frozen=True)
class Actor:
    """Who caused a change: a signed-in user, an integration, or the system itself."""

    kind: str
    name: str = ""
    user_id: int | None = None

    @classmethod
    def user(cls, user: "AbstractBaseUser") -> "Actor":
        return cls(kind=ActorKind.USER, name=user.get_username(), user_id=user.pk)

    @classmethod
    def integration(cls, name: str) -> "Actor":
        return cls(kind=ActorKind.INTEGRATION, name=name)

    @classmethod
    def system(cls, name: str = "system") -> "Actor":
        return cls(kind=ActorKind.SYSTEM, name=name)

    @property
    def may_backdate(self) -> bool:
        """Integrations and imports may give an effective time; users act now."""
        return self.kind != ActorKind.USER


def transition_steps(
    transitions: Mapping[str, frozenset[str]],
    current: str,
    target: str,
    *,
    main_path: Sequence[str] = (),
    what: str = "object",
) -> list[str]:
    """The stages passed through from ``current`` to ``target``, or IllegalTransition.

    A direct move must be in ``transitions``; a longer forward move is allowed only along
    ``main_path`` (skipped stages), each step itself legal.
    """
    if target in transitions.get(current, frozenset()):
        return [target]
    if current in main_path and target in main_path:
        start, end = main_path.index(current), main_path.index(target)
        if start < end:
            return list(main_path[start + 1 : end + 1])
    raise IllegalTransition(f"A {what} cannot move from '{current}' to '{target}'.")


def effective_time(*, at: datetime | None, actor: Actor, not_before: datetime | None) -> datetime:
    """When a transition takes effect: now for users, ``at`` (default now) for integrations.

    An effective time in the future or earlier than the previous milestone is rejected.
    """
    now = timezone.now()
    if at is None or not actor.may_backdate:
        moment = now
    else:
        if timezone.is_naive(at):
            raise InvalidEffectiveTime("The effective time must include a UTC offset.")
        if at > now:
            raise InvalidEffectiveTime("The effective time cannot be in the future.")
        moment = at
    if not_before is not None and moment < not_before:
        raise InvalidEffectiveTime(
            f"The effective time {moment.isoformat()} is earlier than the previous milestone "
            f"({not_before.isoformat()})."
        )
    return moment


def log_transition(
    *,
    lead_id: int,
    object_type: str,
    object_id: int,
    from_stage: str,
    to_stage: str,
    at: datetime,
    actor: Actor,
    reason: str = "",
    ruleset_version: int | None = None,
) -> StageTransition:
    return StageTransition.objects.create(
        lead_id=lead_id,
        object_type=object_type,
        object_id=object_id,
        from_stage=from_stage,
        to_stage=to_stage,
        effective_at=at,
        actor_kind=actor.kind,
        actor_user_id=actor.user_id,
        actor_name=actor.name[:150],
        reason=reason[:255],
        ruleset_version=ruleset_version,
    )
