"""Identity proofing: registration officers raise an account's identity-assurance level
(identity/assurance.py) after checking the identity card in person or an uploaded image of
it, and what was checked is what departments receive as ``verified_claims``."""
