"""Pure pieces: reference numbers and their check character, the state machine table,
receipts and their keys, magic-byte sniffing, answers typed into a page."""

from __future__ import annotations

import itertools

import pytest
from jose import jwt as jose_jwt

from forms_hub.attachments.sniff import sniff
from forms_hub.definitions.answers import answers_from_form, validate_answers
from forms_hub.definitions.document import FormDocument
from forms_hub.submissions import flows, numbers
from forms_hub.submissions.receipts import InvalidReceipt, ReceiptSigner
from tests.forms_hub.definitions.test_document import demo

MASTER = b"m" * 32


def test_numbers_avoid_confusable_characters_and_carry_a_check_character():
    seen = set()
    for sequence in range(1, 3000):
        number = numbers.format_number("FEHD", 2025, sequence)
        body = number.split("-")[-1]
        assert len(body) == 7 and not set(body) & set("IO01")
        assert numbers.is_well_formed(number)
        seen.add(number)
    assert len(seen) == 2999


def test_the_check_character_catches_single_typos_and_swaps():
    number = numbers.format_number("TD", 2025, 4242)
    head = number[:-1]
    for i, char in enumerate(head):
        if char == "-":
            continue
        for other in numbers.ALPHABET + "0123456789":
            if other != char:
                typo = head[:i] + other + head[i + 1 :] + number[-1]
                assert not numbers.is_well_formed(typo), typo
    for i in range(len(head) - 1):
        a, b = head[i], head[i + 1]
        if a != b and "-" not in (a, b):
            swapped = head[:i] + b + a + head[i + 2 :] + number[-1]
            assert not numbers.is_well_formed(swapped), swapped


def test_counters_give_each_number_once(db):
    values = [numbers.next_sequence(db, "submission:TEST:2025") for _ in range(5)]
    assert values == [1, 2, 3, 4, 5]
    assert numbers.next_sequence(db, "submission:OTHER:2025") == 1


def test_the_state_machine_refuses_everything_not_in_its_table():
    allowed = {(t.source, t.action, t.actor) for t in flows.TRANSITIONS}
    actions = {t.action for t in flows.TRANSITIONS}
    for status, action, actor in itertools.product(
        flows.STATUSES, actions, (flows.RESIDENT, flows.DEPARTMENT)
    ):
        if (status, action, actor) in allowed:
            assert flows.transition(status, action, actor).source == status
        else:
            with pytest.raises(flows.IllegalTransition):
                flows.transition(status, action, actor)
    for decided in flows.DECIDED:
        assert (
            flows.actions_from(decided, flows.RESIDENT) == flows.actions_from(decided, flows.DEPARTMENT) == []
        )


def test_receipts_verify_and_old_keys_stay_published():
    old = ReceiptSigner(MASTER, "https://id.example/forms", 1)
    receipt = old.sign({"reference": "TD-2025-ABCDEFG"})
    rotated = ReceiptSigner(MASTER, "https://id.example/forms", 2)
    assert rotated.current_kid != old.current_kid and len(rotated.jwks()["keys"]) == 2
    assert rotated.verify(receipt)["reference"] == "TD-2025-ABCDEFG"
    assert all("d" not in key for key in rotated.jwks()["keys"])
    header, payload, signature = receipt.split(".")
    forged = jose_jwt.encode(
        {"reference": "TD-2025-XXXXXXX", "iss": "https://id.example/forms"}, "secret", "HS256"
    )
    for bad in (
        f"{header}.{forged.split('.')[1]}.{signature}",
        forged,
        "eyJhbGciOiJub25lIn0." + payload + ".",
        ReceiptSigner(b"x" * 32, "https://id.example/forms", 1).sign({"reference": "TD-2025-ABCDEFG"}),
        ReceiptSigner(MASTER, "https://other.example/forms", 1).sign({"reference": "TD-2025-ABCDEFG"}),
        "not a receipt",
    ):
        with pytest.raises(InvalidReceipt):
            rotated.verify(bad)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"%PDF-1.7\n", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n\x00", "image/png"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"GIF89a", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"MZ\x90\x00", None),
        (b"PK\x03\x04", None),
        (b"<svg xmlns=", None),
    ],
)
def test_sniffing(head, expected):
    assert sniff(head) == expected


class FakeForm(dict):
    def getlist(self, key):
        value = self.get(key)
        return value if isinstance(value, list) else ([] if value is None else [value])


def test_answers_typed_into_a_page_take_the_schemas_types():
    doc = FormDocument(demo("food-business-licence"))
    answers = answers_from_form(
        doc,
        FakeForm(
            seats="40",
            floor_area="85.5",
            cuisine=["chinese", "cafe"],
            declaration="true",
            business_name="  Noodles  ",
            email="",
        ),
    )
    assert answers == {
        "seats": 40,
        "floor_area": 85.5,
        "cuisine": ["chinese", "cafe"],
        "declaration": True,
        "business_name": "Noodles",
    }
    typed_wrong = answers_from_form(doc, FakeForm(seats="forty"))
    errors = validate_answers(doc, typed_wrong, complete=False)
    assert [(e.field, e.code) for e in errors] == [("seats", "type")]
    assert errors[0].message == {
        "en": "Number of seats must be a whole number",
        "zh-HK": "座位數目必須是整數",
    }
    declined = validate_answers(doc, {"declaration": False}, complete=False)
    assert declined[0].message["en"] == "You must confirm the declaration"


def test_filesystem_storage_keeps_files_private_and_refuses_odd_keys(tmp_path):
    from forms_hub.attachments.storage import FilesystemStorage

    storage = FilesystemStorage(tmp_path)
    data = b"%PDF-1.7 hello"
    key = storage.put(data)
    assert storage.get(key) == data
    assert oct((tmp_path / key).stat().st_mode & 0o777) == "0o600"
    for bad in ("../../etc/passwd", "/etc/passwd", "ab/../../x", ""):
        with pytest.raises(ValueError):
            storage.get(bad)
    storage.delete(key)
    assert not (tmp_path / key).exists()
