import pytest

from tests.security.objects import World, build_world


@pytest.fixture
def world(db: None) -> World:
    return build_world()
