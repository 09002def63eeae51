import secrets

from identity.oidc.tokens import RefreshSuccessors


def test_a_successor_is_a_function_of_its_parent_and_the_master_key():
    successors = RefreshSuccessors(secrets.token_bytes(32))
    parent = secrets.token_urlsafe(32)
    successor = successors.successor_of(parent)
    assert successor == successors.successor_of(parent)
    assert successor != parent and len(successor) == 43  # 256 bits, like a fresh refresh token
    assert successors.successor_of(secrets.token_urlsafe(32)) != successor
    assert RefreshSuccessors(secrets.token_bytes(32)).successor_of(parent) != successor
