"""The guessing defence attacked over HTTP (issue 12, item 3): it slows guessing, and no
stranger can lock an account's owner out, a network's other users out, or share a counter
with everyone behind the same load balancer."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pyotp
import pytest
import requests
from sqlalchemy import select

from identity.accounts import service as accounts
from identity.accounts.schemas import Enrolment
from identity.messaging.models import OutboxMessage
from identity.messaging.outbox import open_message
from identity.security.hashing import hasher_for
from identity.security.keyring import build_keyring
from kit.db import session_scope
from tests.e2e.conftest import Gateway, form_fields, random_hkid

PASSWORD = "a long demo passphrase"
WRONG = "not the passphrase"
PAST_THE_LONGEST_WAIT = 16  # minutes
NOTICE_SUBJECT = "failed sign-in attempts"


@dataclass
class Resident:
    account_id: str
    email: str
    totp_secret: str | None = None


def new_resident(gateway: Gateway, *, totp: bool = False) -> Resident:
    email = f"resident-{secrets.token_hex(5)}@example.hk"
    keyring = build_keyring(gateway.runtime.master_key, gateway.runtime.settings.field_key_generation)
    enrolment = Enrolment(
        hkid=random_hkid(),
        name="CHAN Tai Man",
        name_zh=None,
        birthdate=date(1980, 5, 17),
        gender="male",
        address="Flat A, 12/F, 1 Queen's Road Central, Hong Kong",
        phone="+85291234567",
        email=email,
        password=PASSWORD,
    )
    secret = None
    for db in session_scope(gateway.runtime.sessions):
        now = gateway.runtime.clock()
        account = accounts.enrol_resident(
            db, keyring, hasher_for(gateway.runtime.settings), enrolment, None, now=now, email_verified=True
        )
        if totp:
            secret = accounts.begin_totp_setup(keyring, account)
            # Confirmed with the previous time step, so that the current one is still unused.
            accounts.confirm_totp(
                db, keyring, account, pyotp.TOTP(secret).at(now - timedelta(seconds=30)), None, now
            )
        account_id = account.id
    return Resident(account_id, email, secret)


def random_address() -> str:
    return f"198.{secrets.randbelow(50) + 18}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


class Visitor:
    """A browser (its own cookies), seen by the gateway at ``address`` when a trusted proxy
    forwards it (X-Forwarded-For), else at the TCP peer 127.0.0.1."""

    def __init__(self, gateway: Gateway, address: str | None = None) -> None:
        self.gateway = gateway
        self.session = requests.Session()
        self.headers = {"X-Forwarded-For": address} if address else {}

    def sign_in(self, identifier: str, password: str) -> requests.Response:
        base = self.gateway.base_url
        page = self.session.get(f"{base}/signin", headers=self.headers, timeout=10)
        fields = form_fields(page.text.split("</form>", 1)[0])
        fields.update(identifier=identifier, password=password)
        return self.session.post(
            f"{base}/signin", data=fields, headers=self.headers, allow_redirects=False, timeout=10
        )

    def second_factor(self, code: str) -> requests.Response:
        base = self.gateway.base_url
        page = self.session.get(f"{base}/signin/second-factor", headers=self.headers, timeout=10)
        fields = form_fields(page.text.split("</form>", 1)[0])
        fields["code"] = code
        return self.session.post(
            f"{base}/signin/second-factor",
            data=fields,
            headers=self.headers,
            allow_redirects=False,
            timeout=10,
        )


def signed_in(response: requests.Response) -> bool:
    return response.status_code == 303 and not response.headers["location"].startswith("/signin")


@pytest.fixture
def behind_proxy(gateway: Gateway) -> Iterator[Gateway]:
    """The gateway behind a trusted load balancer (this test runner, 127.0.0.1)."""
    gateway.runtime.settings.trusted_proxies = "127.0.0.1"
    yield gateway
    gateway.runtime.settings.trusted_proxies = None


def test_many_identifiers_from_one_address_lock_no_other_account(behind_proxy):
    attacker = Visitor(behind_proxy, random_address())
    for _ in range(60):
        assert attacker.sign_in(f"nobody-{secrets.token_hex(4)}@example.hk", WRONG).status_code == 400
    resident = new_resident(behind_proxy)
    neighbour = Visitor(behind_proxy, attacker.headers["X-Forwarded-For"])  # same address, other person
    assert signed_in(neighbour.sign_in(resident.email, PASSWORD))  # slowed at most, never refused


@pytest.mark.parametrize("failures", [5, 50])
def test_a_strangers_wrong_passwords_do_not_stop_the_owner(behind_proxy, failures):
    gateway, clock = behind_proxy, behind_proxy.runtime.clock
    resident = new_resident(gateway)
    owner = Visitor(gateway, random_address())
    assert signed_in(owner.sign_in(resident.email, PASSWORD))  # this browser is known from now on
    for attempt in range(failures):
        with clock.shifted(minutes=PAST_THE_LONGEST_WAIT * attempt):
            stranger = Visitor(gateway, random_address())
            assert stranger.sign_in(resident.email, WRONG).status_code == 400
    with clock.shifted(minutes=PAST_THE_LONGEST_WAIT * (failures - 1), seconds=1):
        # A browser never seen before, with the right password, waits: 15 s after the 5th
        # failure, doubling, never more than 15 minutes (it may retry then; never hours) ...
        newcomer = Visitor(gateway, random_address())
        paused = newcomer.sign_in(resident.email, PASSWORD)
        assert paused.status_code == 429 and "You can try again after" in paused.text
        # ... while the owner's known browser signs in at once.
        assert signed_in(owner.sign_in(resident.email, PASSWORD))


def test_an_unknown_browser_waits_minutes_never_hours(behind_proxy):
    gateway, clock = behind_proxy, behind_proxy.runtime.clock
    resident = new_resident(gateway)
    for attempt in range(30):
        with clock.shifted(minutes=PAST_THE_LONGEST_WAIT * attempt):
            assert Visitor(gateway, random_address()).sign_in(resident.email, WRONG).status_code == 400
    newcomer = Visitor(gateway, random_address())
    with clock.shifted(minutes=PAST_THE_LONGEST_WAIT * 29, seconds=1):
        assert newcomer.sign_in(resident.email, PASSWORD).status_code == 429
    with clock.shifted(minutes=PAST_THE_LONGEST_WAIT * 30):
        assert signed_in(newcomer.sign_in(resident.email, PASSWORD))


@pytest.mark.parametrize("failures", [5, 50])
def test_password_and_code_pass_from_any_browser_whatever_a_stranger_did(behind_proxy, failures):
    gateway, clock = behind_proxy, behind_proxy.runtime.clock
    resident = new_resident(gateway, totp=True)
    for _ in range(failures):
        stranger = Visitor(gateway, random_address())
        stranger.sign_in(resident.email, WRONG)
    owner = Visitor(gateway, random_address())  # a browser never seen before
    assert owner.sign_in(resident.email, PASSWORD).headers["location"] == "/signin/second-factor"
    code = pyotp.TOTP(resident.totp_secret).at(clock())
    assert signed_in(owner.second_factor(code))


def test_a_second_factor_account_under_attack_answers_a_wrong_password_like_a_right_one(behind_proxy):
    resident = new_resident(behind_proxy, totp=True)
    for _ in range(5):
        Visitor(behind_proxy, random_address()).sign_in(resident.email, WRONG)
    guesser = Visitor(behind_proxy, random_address())
    answer = guesser.sign_in(resident.email, WRONG)
    assert answer.status_code == 303 and answer.headers["location"] == "/signin/second-factor"
    code = pyotp.TOTP(resident.totp_secret).at(behind_proxy.runtime.clock())
    assert guesser.second_factor(code).status_code == 400  # no code completes a wrong password


def _guess_five_times(visitor: Visitor, email: str) -> None:
    for _ in range(5):
        assert visitor.sign_in(email, WRONG).status_code == 400


def test_behind_a_trusted_proxy_each_client_has_its_own_counters(behind_proxy):
    resident = new_resident(behind_proxy, totp=True)  # the account itself never waits: only pairs do
    attacker = Visitor(behind_proxy, "203.0.113.9")
    _guess_five_times(attacker, resident.email)
    assert attacker.sign_in(resident.email, PASSWORD).status_code == 429  # its pair waits
    other = Visitor(behind_proxy, "192.0.2.200")
    assert other.sign_in(resident.email, PASSWORD).headers["location"] == "/signin/second-factor"


def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(gateway):
    resident = new_resident(gateway, totp=True)
    attacker = Visitor(gateway, "203.0.113.9")
    _guess_five_times(attacker, resident.email)
    spoofing = Visitor(gateway, "192.0.2.200")  # claims another address: it is still 127.0.0.1
    assert spoofing.sign_in(resident.email, PASSWORD).status_code == 429


def _token_request(gateway: Gateway, address: str, **auth: str) -> requests.Response:
    data = {"grant_type": "client_credentials", "scope": "openid"}
    headers = {"X-Forwarded-For": address}
    if "basic" in auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth["basic"].encode()).decode()
    else:
        data.update(auth)
    return requests.post(f"{gateway.base_url}/token", data=data, headers=headers, timeout=10)


def test_client_authentication_failures_answer_alike_and_are_throttled(behind_proxy):
    client_id, secret = behind_proxy.register_client()
    attacker = random_address()
    failures = [
        _token_request(behind_proxy, attacker, basic=f"{client_id}:wrong-secret"),
        _token_request(behind_proxy, attacker, basic=f"no-such-client-{secrets.token_hex(3)}:x"),
        _token_request(behind_proxy, attacker, client_id="no-such-client", client_secret="x"),
        _token_request(
            behind_proxy,
            attacker,
            client_id=client_id,
            client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            client_assertion="e30.e30.bad",
        ),
    ]
    # RFC 6749 §5.2: 401 with a Basic challenge to clients that tried Basic, 400 to the others.
    assert [response.status_code for response in failures] == [401, 401, 400, 400]
    assert ["www-authenticate" in response.headers for response in failures] == [True, True, False, False]
    assert {response.json()["error"] for response in failures} == {"invalid_client"}
    assert len({response.json()["error_description"] for response in failures}) == 1
    for _ in range(4):
        _token_request(behind_proxy, attacker, basic=f"{client_id}:wrong-secret")
    throttled = _token_request(behind_proxy, attacker, basic=f"{client_id}:{secret}")
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    assert throttled.json()["error_description"] == failures[0].json()["error_description"]
    # The department itself, from its own network, is not held back by the stranger.
    served = _token_request(behind_proxy, random_address(), basic=f"{client_id}:{secret}")
    assert served.status_code == 200 and served.json()["access_token"]


def test_introspection_and_revocation_count_client_failures_too(behind_proxy):
    client_id, _secret = behind_proxy.register_client()
    attacker = {"X-Forwarded-For": random_address()}
    auth = (client_id, "wrong-secret")
    for path in ["/introspect", "/revoke", "/introspect", "/revoke", "/bc-authorize"]:
        response = requests.post(
            f"{behind_proxy.base_url}{path}", data={"token": "x"}, auth=auth, headers=attacker, timeout=10
        )
        assert response.status_code == 401
    throttled = requests.post(
        f"{behind_proxy.base_url}/introspect", data={"token": "x"}, auth=auth, headers=attacker, timeout=10
    )
    assert throttled.status_code == 429


def test_the_admin_credential_is_throttled_per_network(behind_proxy):
    token = behind_proxy.runtime.settings.admin_token
    url = f"{behind_proxy.base_url}/admin/clients"
    attacker = random_address()
    for _ in range(5):
        wrong = requests.get(
            url, headers={"Authorization": "Bearer " + "x" * 40, "X-Forwarded-For": attacker}, timeout=10
        )
        assert wrong.status_code == 401
    refused = requests.get(
        url, headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": attacker}, timeout=10
    )
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    operator = requests.get(
        url, headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": random_address()}, timeout=10
    )
    assert operator.status_code == 200


def test_the_owner_is_told_once(behind_proxy):
    gateway, clock = behind_proxy, behind_proxy.runtime.clock
    resident = new_resident(gateway)
    for attempt in range(12):
        with clock.shifted(minutes=PAST_THE_LONGEST_WAIT * attempt):
            Visitor(gateway, random_address()).sign_in(resident.email, WRONG)
    keyring = build_keyring(gateway.runtime.master_key, gateway.runtime.settings.field_key_generation)
    for db in session_scope(gateway.runtime.sessions):
        rows = db.scalars(select(OutboxMessage).where(OutboxMessage.subject.contains(NOTICE_SUBJECT))).all()
        told = [row for row in rows if open_message(keyring, row).recipient == resident.email]
    assert len(told) == 1


def test_guesses_at_the_admin_credential_count_in_every_service(behind_proxy):
    """One credential, one count: guessing it at the consent or forms hub API is no way
    around the provider's counters."""
    token = behind_proxy.runtime.settings.admin_token
    base = behind_proxy.base_url
    attacker = random_address()
    guesses = [("POST", "/consent/ledger/checkpoints"), ("GET", "/forms/api/admin/definitions")]
    for attempt in range(5):
        method, path = guesses[attempt % 2]
        headers = {"Authorization": "Bearer " + "y" * 40, "X-Forwarded-For": attacker}
        assert requests.request(method, base + path, headers=headers, timeout=10).status_code == 401
    for method, path in [*guesses, ("GET", "/admin/clients")]:
        headers = {"Authorization": f"Bearer {token}", "X-Forwarded-For": attacker}
        refused = requests.request(method, base + path, headers=headers, timeout=10)
        assert refused.status_code == 429, (path, refused.text)
        assert refused.headers["Retry-After"]
    operator = {"Authorization": f"Bearer {token}", "X-Forwarded-For": random_address()}
    assert (
        requests.get(base + "/forms/api/admin/definitions", headers=operator, timeout=10).status_code == 200
    )
    assert (
        requests.post(base + "/consent/ledger/checkpoints", headers=operator, timeout=10).status_code == 201
    )
