from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from directory.models import ApiToken
from directory.selectors import token_hash
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_token_is_issued_for_correct_credentials_and_stored_hashed(alice):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["user"]["username"] == "alice"
    assert body["user"]["display_name"] == "Alice Martin"
    token = body["token"]
    stored = ApiToken.objects.get(person=alice)
    assert token not in (stored.key_hash, stored.prefix)
    assert len(stored.key_hash) == 64
    assert not ApiToken.objects.filter(key_hash__contains=token).exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"username": "alice", "password": "wrong"},
        {"username": "nobody", "password": PASSWORD},
    ],
)
def test_token_refused_for_wrong_credentials_without_saying_which(alice, payload):
    response = APIClient().post("/api/v1/auth/token/", payload, format="json")

    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "invalid_credentials",
            "detail": "Unknown username or wrong password.",
        }
    }
    assert not ApiToken.objects.exists()


def test_token_request_with_missing_fields_is_a_clear_400():
    response = APIClient().post("/api/v1/auth/token/", {"username": "alice"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "password" in response.json()["error"]["detail"]


def test_malformed_json_is_a_400_not_a_500():
    response = APIClient().post(
        "/api/v1/auth/token/", data="{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_bearer_token_authenticates_and_revocation_ends_it(alice, api_client_for):
    client = api_client_for(alice)

    assert client.get("/api/v1/me/").json()["username"] == "alice"
    assert client.delete("/api/v1/auth/token/").status_code == 204
    after = client.get("/api/v1/me/")

    assert after.status_code == 401
    assert after.json()["error"]["code"] == "not_authenticated"
    assert ApiToken.objects.get(person=alice).revoked_at is not None


def test_revoking_one_token_leaves_the_others_working(alice, api_client_for):
    first, second = api_client_for(alice), api_client_for(alice)

    first.delete("/api/v1/auth/token/")

    assert second.get("/api/v1/me/").status_code == 200


def test_tokens_of_a_deactivated_person_stop_working(alice, api_client_for):
    from directory import services

    client = api_client_for(alice)
    services.person_deactivate(person=alice)

    assert client.get("/api/v1/me/").status_code == 401


def test_a_plainly_saved_deactivation_stops_the_persons_tokens(alice, api_client_for):
    client = api_client_for(alice)
    alice.is_active = False
    alice.save()

    assert client.get("/api/v1/me/").status_code == 401


def test_a_token_is_issued_with_its_expiry(alice, settings):
    settings.PARLEY_TOKEN_MAX_AGE_SECONDS = 3600
    before = timezone.now()

    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 201
    expires_at = datetime.fromisoformat(response.json()["expires_at"])
    assert before + timedelta(hours=1) <= expires_at <= timezone.now() + timedelta(hours=1)


def test_a_token_past_its_maximum_age_stops_working(alice, api_client_for, settings):
    settings.PARLEY_TOKEN_MAX_AGE_SECONDS = 3600
    client = api_client_for(alice)
    assert client.get("/api/v1/me/").status_code == 200

    ApiToken.objects.update(created_at=timezone.now() - timedelta(seconds=3601))
    after = client.get("/api/v1/me/")

    assert after.status_code == 401
    assert after.json()["error"] == {
        "code": "not_authenticated",
        "detail": "The token is unknown, revoked or expired.",
    }


def test_a_token_unused_for_the_idle_timeout_stops_working(alice, api_client_for, settings):
    settings.PARLEY_TOKEN_IDLE_SECONDS = 3600
    settings.PARLEY_TOKEN_MAX_AGE_SECONDS = 0  # no maximum age: only the idle timeout acts
    client, idle_client = api_client_for(alice), api_client_for(alice)
    long_ago = timezone.now() - timedelta(days=30)
    ApiToken.objects.update(created_at=long_ago, last_used_at=long_ago)
    ApiToken.objects.filter(key_hash=token_hash(client.token)).update(
        last_used_at=timezone.now() - timedelta(seconds=3500)
    )

    assert client.get("/api/v1/me/").status_code == 200
    assert idle_client.get("/api/v1/me/").status_code == 401


def test_session_cookie_authenticates_the_api(alice):
    client = APIClient()
    client.login(username="alice", password=PASSWORD)

    assert client.get("/api/v1/me/").json()["username"] == "alice"


def test_api_requires_authentication():
    response = APIClient().get("/api/v1/me/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_directory_search_finds_people_by_name_part(alice, bob, carol, api_client_for):
    response = api_client_for(alice).get("/api/v1/users/", {"q": "chen"})

    assert [p["username"] for p in response.json()["results"]] == ["bob"]


def test_directory_search_hides_deactivated_people(alice, bob, api_client_for):
    bob.is_active = False
    bob.save()

    response = api_client_for(alice).get("/api/v1/users/", {"q": "bob"})

    assert response.json()["results"] == []


def test_unknown_api_path_is_a_json_404(alice, api_client_for):
    response = api_client_for(alice).get("/api/v1/nothing-here/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_openapi_schema_is_served(alice, api_client_for):
    response = api_client_for(alice).get("/api/schema/")

    assert response.status_code == 200
    assert b"/api/v1/conversations/{conversation_id}/messages/" in response.content


def test_login_page_signs_a_person_in(alice, client):
    page = client.get("/login/")
    response = client.post("/login/", {"username": "alice", "password": PASSWORD})

    assert page.status_code == 200
    assert b"Sign in" in page.content
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_directory_search_shows_presence_as_each_person_allows(
    alice, bob, carol, api_client_for, django_assert_max_num_queries
):
    from presence import services as presence

    presence.contact_add(owner=bob, username="alice", relationship="blocked")
    presence.endpoint_open(person=bob)
    presence.endpoint_open(person=carol)
    client = api_client_for(alice)

    with django_assert_max_num_queries(10):  # flat: no query per person listed
        results = client.get("/api/v1/users/", {"q": "o"}).json()["results"]

    seen = {r["username"]: r["presence"]["availability"] for r in results}
    assert seen == {"bob": "offline", "carol": "available"}
    assert "title" not in next(r["presence"] for r in results if r["username"] == "bob")
