"""Local development: `make run`. SQLite and in-process tasks unless the environment says otherwise."""

from .base import *  # noqa: F403
from .base import env_bool

DEBUG = env_bool("DEBUG", default=True)

# Static files come from the app folders (WhiteNoise finders); the collected folder may not exist yet.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STATIC_ROOT.mkdir(exist_ok=True)
