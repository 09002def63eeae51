"""Form definitions as data: the format's checks, versions, publishing, the admin API and
the `egate forms load` command."""

from __future__ import annotations

import copy
import json

import pytest

from forms_hub.definitions.document import FormDocument, definition_problems
from forms_hub.definitions.service import DefinitionError, load, publish_version
from forms_hub.demo import DEMO_FORMS_DIR
from tests.forms_hub.conftest import ADMIN_TOKEN, toilet_answers


def demo(slug: str) -> dict:
    return json.loads((DEMO_FORMS_DIR / f"{slug}.json").read_text())


def test_the_five_demo_forms_are_valid_and_bilingual():
    paths = sorted(DEMO_FORMS_DIR.glob("*.json"))
    assert len(paths) >= 5
    for path in paths:
        doc = json.loads(path.read_text())
        assert definition_problems(doc) == [], path.name
        for field in doc["fields"].values():
            assert field["label"]["en"] and field["label"]["zh-HK"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["fields"].pop("district"), "fields: property 'district' has no label"),
        (
            lambda d: d["pages"][0]["fields"].remove("toilet_location"),
            "pages: property 'toilet_location' is on no page",
        ),
        (
            lambda d: d["fields"]["district"]["label"].pop("zh-HK"),
            "fields/district/label: 'zh-HK' is a required property",
        ),
        (
            lambda d: d["schema"].update(type="array"),
            "schema: must be an object schema with at least one property",
        ),
        (lambda d: d["schema"].pop("additionalProperties"), "schema/additionalProperties: must be false"),
        (
            lambda d: d["schema"]["properties"]["description"].update(minLength="ten"),
            "schema/properties/description/minLength",
        ),
        (
            lambda d: d["prefill"].update(nickname="name"),
            "prefill: 'nickname' is not a property of the schema",
        ),
        (
            lambda d: d["prefill"].update(reporter_name="favourite_colour"),
            "prefill/reporter_name: 'favourite_colour' is not one of",
        ),
        (
            lambda d: d["fields"]["fault_type"]["options"].pop("blocked"),
            "fields/fault_type/options: no label for blocked",
        ),
        (lambda d: d.update(department="fehd"), "department: 'fehd' does not match"),
        (lambda d: d["attachments"][0].update(types=["application/x-msdownload"]), "attachments/0/types/0"),
        (
            lambda d: d.update(min_identity_level="verified"),
            "min_identity_level: 'verified' is not one of ['self_asserted', 'remote', 'in_person']",
        ),
        (lambda d: d.update(min_identity_level=None), "min_identity_level: None is not one of"),
    ],
)
def test_definition_problems_are_named(change, expected):
    doc = demo("public-toilet-fault-report")
    change(doc)
    problems = definition_problems(doc)
    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.parametrize(
    ("level", "required"), [("in_person", "in_person"), ("remote", "remote"), ("self_asserted", None)]
)
def test_a_form_may_require_an_identity_level(level, required):
    doc = demo("public-toilet-fault-report")
    assert FormDocument(doc).min_identity_level is None
    doc["min_identity_level"] = level
    assert definition_problems(doc) == []
    assert FormDocument(doc).min_identity_level == required  # self_asserted: anyone, as without


def test_the_demo_driving_licence_renewal_needs_a_proofed_identity():
    assert FormDocument(demo("driving-licence-renewal")).min_identity_level == "remote"


def test_loading_makes_immutable_versions_and_publishing_supersedes(db, forms_runtime):
    now = forms_runtime.clock()
    doc = demo("public-toilet-fault-report")
    first = load(db, doc, now, publish=True)
    assert first.created and first.definition.version == 1 and first.definition.status == "published"
    same = load(db, copy.deepcopy(doc), now, publish=True)
    assert not same.created and same.definition.id == first.definition.id
    doc["title"]["en"] = "Report a public toilet fault"
    second = load(db, doc, now)
    assert second.definition.version == 2 and second.definition.status == "draft"
    assert first.definition.status == "published"
    publish_version(db, second.definition, now)
    assert (first.definition.status, second.definition.status) == ("superseded", "published")
    with pytest.raises(DefinitionError):
        publish_version(db, first.definition, now)
    stolen = demo("public-toilet-fault-report")
    stolen["department"] = "TD"
    with pytest.raises(DefinitionError, match="belongs to department FEHD"):
        load(db, stolen, now)
    with pytest.raises(DefinitionError) as invalid:
        load(db, {"slug": "x"}, now)
    assert invalid.value.problems


def test_admin_api_with_the_admin_token_or_a_department_token(client, provider):
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    doc = demo("public-toilet-fault-report")
    doc["description"]["en"] = "Tell us what is wrong."
    loaded = client.post("/forms/api/admin/definitions", json=doc, headers=admin)
    assert loaded.status_code == 201 and loaded.json()["version"] == 2 and loaded.json()["status"] == "draft"
    published = client.post(
        "/forms/api/admin/definitions/public-toilet-fault-report/versions/2/publish", headers=admin
    )
    assert published.json()["status"] == "published"
    assert client.get("/forms/api/forms/public-toilet-fault-report").json()["version"] == 2
    fehd = {"Authorization": f"Bearer {provider.department_token('FEHD')}"}
    td = {"Authorization": f"Bearer {provider.department_token('TD')}"}
    doc["description"]["en"] = "Tell us what is wrong, please."
    assert (
        client.post("/forms/api/admin/definitions?publish=true", json=doc, headers=fehd).json()["version"]
        == 3
    )
    refused = client.post("/forms/api/admin/definitions", json=doc, headers=td)
    assert refused.status_code == 403
    assert {
        d["department"] for d in client.get("/forms/api/admin/definitions", headers=td).json()["items"]
    } == {"TD"}
    assert (
        client.post("/forms/api/admin/definitions/public-toilet-fault-report/retire", headers=td).status_code
        == 404
    )
    broken = client.post("/forms/api/admin/definitions", json={"slug": "Bad Slug"}, headers=admin)
    assert broken.status_code == 422 and broken.json()["problems"]
    assert (
        client.post(
            "/forms/api/admin/definitions", json=doc, headers={"Authorization": "Bearer wrong"}
        ).status_code
        == 401
    )
    assert client.post("/forms/api/admin/definitions", json=doc).status_code == 401
    retired = client.post("/forms/api/admin/definitions/public-toilet-fault-report/retire", headers=fehd)
    assert retired.json()["status"] == "retired"
    assert client.get("/forms/api/forms/public-toilet-fault-report").status_code == 404


def test_a_draft_on_a_superseded_version_can_be_submitted_for_a_while_then_moves(
    client, hub_app, clock, provider, resident
):
    from dataclasses import replace
    from datetime import timedelta

    from tests.forms_hub.conftest import sign_in

    hub_app.state.forms_config = replace(hub_app.state.forms_config, superseded_grace=timedelta(days=5))
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    old = client.post(
        "/forms/api/submissions", json={"form": "public-toilet-fault-report", "answers": toilet_answers()}
    ).json()
    later = client.post(
        "/forms/api/submissions", json={"form": "public-toilet-fault-report", "answers": toilet_answers()}
    ).json()
    doc = demo("public-toilet-fault-report")
    doc["schema"]["properties"].pop("noticed_on")
    doc["pages"][1]["fields"].remove("noticed_on")
    doc["fields"].pop("noticed_on")
    doc["schema"]["properties"]["cubicle"] = {"type": "string", "maxLength": 20}
    doc["schema"]["required"].append("cubicle")
    doc["pages"][1]["fields"].append("cubicle")
    doc["fields"]["cubicle"] = {"label": {"en": "Cubicle", "zh-HK": "廁格"}}
    assert (
        client.post("/forms/api/admin/definitions?publish=true", json=doc, headers=admin).json()["version"]
        == 2
    )
    within = client.get(f"/forms/api/submissions/{old['id']}").json()
    assert within["notice"] == "newer_version" and within["form"]["version"] == 1
    submitted = client.post(f"/forms/api/submissions/{old['id']}/submit")
    assert submitted.status_code == 200 and submitted.json()["form"]["version"] == 1
    clock.set(clock() + timedelta(days=6))
    sign_in(client, provider, resident)
    moved = client.post(f"/forms/api/submissions/{later['id']}/submit")
    assert moved.status_code == 409 and moved.json()["notice"] == "migrated"
    view = client.get(f"/forms/api/submissions/{later['id']}").json()
    assert view["form"]["version"] == 2 and view["migrated_from_version"] == 1
    assert [e["action"] for e in view["history"]][-1] == "migrate"
    assert (
        client.post(f"/forms/api/submissions/{later['id']}/submit").json()["errors"][0]["field"] == "cubicle"
    )
