"""Who acts on the hub's records: a resident, an officer of a department, or a department's
back-end system. The access dependencies (:mod:`forms_hub.access`) establish them; services
receive them as arguments."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resident:
    sub: str


@dataclass(frozen=True)
class Officer:
    """Staff with the officer role for ``department``, signed in to the hub's pages."""

    sub: str
    department: str

    @property
    def actor_kind(self) -> str:
        return "officer"

    @property
    def actor(self) -> str:
        return self.sub


@dataclass(frozen=True)
class DepartmentSystem:
    """A department's back-end, with a client_credentials access token of scope
    ``forms:department``."""

    client_id: str
    department: str

    @property
    def actor_kind(self) -> str:
        return "department_system"

    @property
    def actor(self) -> str:
        return self.client_id


Staff = Officer | DepartmentSystem
