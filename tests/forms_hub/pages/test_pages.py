"""The pages, driven as a browser without script would: bilingual, CSRF-protected, a
one-time form token so a double click submits once, printable receipt, officers' queue."""

from __future__ import annotations

import re

from kit.i18n import hong_kong_time
from tests.forms_hub.conftest import PDF, restaurant_answers, sign_in
from tests.forms_hub.oidc_client.test_sign_in_and_prefill import csrf_of


def form_token_of(page: str) -> str:
    return re.search(r'name="form_token" value="([^"]+)"', page).group(1)


def start(client, slug: str) -> tuple[str, str]:
    index = client.get("/forms/")
    started = client.post(
        f"/forms/start/{slug}", data={"csrf_token": csrf_of(index.text)}, follow_redirects=False
    )
    assert started.status_code == 303, started.text
    url = started.headers["location"]
    return url, client.get(url).text


def page_answers(**overrides):
    answers = {k: str(v) for k, v in restaurant_answers().items() if not isinstance(v, list | bool)}
    answers.update({"cuisine": ["chinese", "cafe"], "declaration": "true"})
    answers.update(overrides)
    return answers


def test_the_forms_list_in_both_languages(client):
    client.cookies.clear()
    english = client.get("/forms/")
    assert english.status_code == 200 and "Application for a general restaurant licence" in english.text
    assert "Log in with e-Gateway" in english.text
    assert "default-src 'self'" in english.headers["content-security-policy"]
    chinese = client.get("/forms/?lang=zh-HK")
    assert "申請普通食肆牌照" in chinese.text and 'lang="zh-Hant-HK"' in chinese.text
    assert "lang=zh-HK" in chinese.headers["set-cookie"]
    assert "以電子通道登入" in client.get("/forms/").text  # the choice is remembered
    assert client.get("/forms/my", follow_redirects=False).headers["location"].startswith("/forms/auth/login")


def test_fill_attach_submit_once_and_print_the_receipt(client, resident, disclosures):
    url, page = start(client, "food-business-licence")
    assert 'enctype="multipart/form-data"' in page and 'name="file:layout_plan"' in page
    missing = client.post(
        url, data={"csrf_token": csrf_of(page), "form_token": form_token_of(page), "action": "submit"}
    )
    assert missing.status_code == 422 and "There is a problem" in missing.text
    assert "Enter Applicant&#39;s name in English" in missing.text and "Attach Layout plan" in missing.text
    assert "You must confirm the declaration" in missing.text
    chinese = client.post(
        url + "?lang=zh-HK", data={"csrf_token": csrf_of(page), "form_token": "t0", "action": "submit"}
    )
    assert "請填寫申請人英文姓名" in chinese.text
    wrong = client.post(
        url + "?lang=en",
        data={
            **page_answers(seats="lots"),
            "csrf_token": csrf_of(page),
            "form_token": "t1",
            "action": "submit",
        },
        files={"file:layout_plan": ("plan.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")},
    )
    assert wrong.status_code == 422 and "Number of seats must be a whole number" in wrong.text
    assert "allowed type" in wrong.text
    token = form_token_of(page)
    data = {**page_answers(), "csrf_token": csrf_of(page), "form_token": token, "action": "submit"}
    done = client.post(
        url,
        data=data,
        files={"file:layout_plan": ("plan.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    receipt_url = done.headers["location"]
    assert receipt_url.endswith("/receipt")
    double = client.post(
        url,
        data=data,
        files={"file:layout_plan": ("plan.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert double.status_code == 303 and double.headers["location"] == receipt_url
    receipt = client.get(receipt_url)
    reference = re.search(r'id="reference">([^<]+)<', receipt.text).group(1)
    assert reference.startswith("FEHD-") and 'class="jws"' in receipt.text
    items = client.get("/forms/api/submissions").json()["items"]
    assert [i["reference"] for i in items] == [reference] and len(disclosures.entries) == 1
    jws = re.search(r'id="receipt-jws">([^<]+)<', receipt.text).group(1)
    checked = client.post("/forms/receipts/verify", data={"receipt": jws})
    assert "The receipt is genuine." in checked.text and reference in checked.text
    tampered = client.post("/forms/receipts/verify", data={"receipt": jws[:-4] + "AAAA"})
    assert "The receipt is not genuine" in tampered.text
    status = client.get(receipt_url.removesuffix("/receipt"))
    assert "Withdraw application" in status.text and "Submitted" in status.text


def test_csrf_is_required_on_every_page_form(client, resident):
    url, page = start(client, "public-toilet-fault-report")
    refused = client.post(url, data={"csrf_token": "nope", "action": "save"})
    assert refused.status_code == 403 and "expired" in refused.text
    assert client.post("/forms/start/public-toilet-fault-report", data={}).status_code == 403


def test_an_officer_reviews_and_approves_from_the_queue_page(client, provider, resident):
    url, page = start(client, "food-business-licence")
    data = {
        **page_answers(),
        "csrf_token": csrf_of(page),
        "form_token": form_token_of(page),
        "action": "submit",
    }
    client.post(url, data=data, files={"file:layout_plan": ("plan.pdf", PDF, "application/pdf")})
    [item] = client.get("/forms/api/submissions").json()["items"]
    sign_in(client, provider, "officer-fehd", roles=["officer"], department="FEHD")
    queue = client.get("/forms/officer")
    assert item["reference"] in queue.text
    case_url = f"/forms/officer/cases/{item['reference']}"
    case = client.get(case_url)
    assert "Harbour Noodles" in case.text and "plan.pdf" in case.text
    # The history in Hong Kong time, and labelled so (the ISO moment stays in datetime=).
    assert "When (Hong Kong time)" in case.text
    history = case.text[case.text.index("When (Hong Kong time)") :]
    moment, shown = re.search(r'<time datetime="([^"]+)">([^<]+)</time>', history).groups()
    assert shown == hong_kong_time(moment) != moment[:16].replace("T", " ")
    csrf = csrf_of(case.text)
    for action in ("assign", "start_review"):
        assert (
            client.post(
                f"{case_url}/action", data={"csrf_token": csrf, "action": action}, follow_redirects=False
            ).status_code
            == 303
        )
    approved = client.post(
        f"{case_url}/action",
        data={"csrf_token": csrf, "action": "approve", "conditions": "Open until 23:00 only"},
    )
    number = re.search(r'id="licence-number">([^<]+)<', approved.text).group(1)
    illegal = client.post(f"{case_url}/action", data={"csrf_token": csrf, "action": "start_review"})
    assert illegal.status_code == 409
    attachment = re.search(r'href="(/forms/officer/cases/[^"]+/attachments/[^"]+)"', case.text).group(1)
    assert client.get(attachment).content == PDF
    verify = client.get(f"/forms/verify?number={number}")
    assert "Valid" in verify.text and "General restaurant licence" in verify.text
    sign_in(client, provider, "officer-td", roles=["officer"], department="TD")
    assert client.get(case_url).status_code == 404
    assert item["reference"] not in client.get("/forms/officer").text


def test_the_resident_answers_a_request_for_information_on_the_page(client, provider, resident):
    from tests.forms_hub.conftest import department

    url, page = start(client, "food-business-licence")
    data = {
        **page_answers(),
        "csrf_token": csrf_of(page),
        "form_token": form_token_of(page),
        "action": "submit",
    }
    client.post(url, data=data, files={"file:layout_plan": ("plan.pdf", PDF, "application/pdf")})
    [item] = client.get("/forms/api/submissions").json()["items"]
    fehd = department(client, provider, "FEHD")
    transitions = f"/forms/api/department/submissions/{item['reference']}/transitions"
    client.post(transitions, json={"action": "start_review"}, headers=fehd)
    client.post(
        transitions, json={"action": "request_info", "reason": "How many seats outdoors?"}, headers=fehd
    )
    status = client.get(f"/forms/submissions/{item['id']}")
    assert "Answer the department" in status.text
    edit = client.get(url)
    assert "How many seats outdoors?" in edit.text and "Send information" in edit.text
    data = {
        **page_answers(seats="48"),
        "csrf_token": csrf_of(edit.text),
        "form_token": "x",
        "action": "resubmit",
    }
    sent = client.post(url, data=data, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == f"/forms/submissions/{item['id']}"
    view = client.get(f"/forms/api/submissions/{item['id']}").json()
    assert view["status"] == "in_review" and view["answers"]["seats"] == 48


def test_a_draft_saves_without_the_declaration_which_submit_asks_for_with_every_other_error(client, resident):
    url, page = start(client, "food-business-licence")
    answers = {k: v for k, v in page_answers().items() if k not in ("declaration", "seats")}
    saved = client.post(
        url, data={**answers, "csrf_token": csrf_of(page), "action": "save"}, follow_redirects=False
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("notice=saved"), saved.text
    again = client.get(url).text
    assert "CHAN Tai Man" in again  # kept
    refused = client.post(
        url,
        data=answers | {"csrf_token": csrf_of(again), "form_token": form_token_of(again), "action": "submit"},
    )
    assert refused.status_code == 422
    summary = refused.text.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    assert "You must confirm the declaration" in summary and 'href="#seats"' in summary  # all at once
    tokens = {"csrf_token": csrf_of(again), "form_token": "t2", "action": "submit"}
    malformed = client.post(url, data=answers | {"seats": "lots"} | tokens)
    summary = malformed.text.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    assert "Number of seats must be a whole number" in summary
    assert "You must confirm the declaration" in summary and "Attach Layout plan" in summary


def test_radio_and_checkbox_groups_are_fieldsets_named_by_their_legend(client, resident):
    """A screen reader announces a group's question with each choice (WCAG 1.3.1, H71)."""
    widgets = set()
    for slug in ("food-business-licence", "public-toilet-fault-report"):
        _url, page = start(client, slug)
        groups = {
            name: (legend, body)
            for name, legend, body in re.findall(
                r'<fieldset id="(\w+)"[^>]*>\s*<legend>(.+?)</legend>(.*?)</fieldset>', page, re.S
            )
        }
        choices = re.findall(r'<input type="(radio|checkbox)" id="[\w-]+" name="(\w+)"', page)
        grouped = {name for _kind, name in choices if sum(1 for _k, n in choices if n == name) > 1}
        assert grouped and grouped <= set(groups), (slug, grouped - set(groups))
        for name in grouped:
            legend, body = groups[name]
            inside = set(re.findall(r'<input type="\w+" id="[\w-]+" name="(\w+)"', body))
            assert legend.strip() and inside == {name}, (slug, name)
        widgets |= {kind for kind, name in choices if name in grouped}
    assert widgets == {"radio", "checkbox"}
