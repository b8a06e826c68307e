from rest_framework import serializers

from access.api import funnel_exception_handler
from leads.errors import IllegalTransition, InvalidEffectiveTime


def test_an_illegal_transition_is_a_409_conflict():
    response = funnel_exception_handler(IllegalTransition("A opportunity cannot move from 'won' to 'lost'."), {})

    assert response.status_code == 409
    assert response.data == {
        "error": {
            "code": "illegal_transition",
            "message": "A opportunity cannot move from 'won' to 'lost'.",
            "fields": {},
        }
    }


def test_a_domain_input_error_names_its_field():
    response = funnel_exception_handler(InvalidEffectiveTime("The effective time cannot be in the future."), {})

    assert response.status_code == 400
    assert response.data["error"]["fields"] == {"at": ["The effective time cannot be in the future."]}


def test_validation_errors_name_each_bad_field():
    error = serializers.ValidationError({"email": ["Enter a valid email address."], "company": {"domain": ["Bad."]}})

    response = funnel_exception_handler(error, {})

    assert response.status_code == 400
    assert response.data["error"]["code"] == "invalid"
    assert response.data["error"]["fields"] == {
        "email": ["Enter a valid email address."],
        "company": {"domain": ["Bad."]},
    }


def test_errors_outside_the_api_are_left_to_django():
    assert funnel_exception_handler(ValueError("boom"), {}) is None
