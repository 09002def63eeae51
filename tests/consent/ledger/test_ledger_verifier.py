"""The offline verifier: a clean export passes, every kind of tampering is caught at the
right line. The export: entries 0..49 on lines 1..20, 22..39, 41..52 and checkpoints of
sizes 20, 38 and 50 on lines 21, 40 and 53."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    public_key_from_vkey,
    public_key_to_vkey,
    sign_note,
)
from consent.ledger.checkpoint import sign_checkpoint as sign
from consent.ledger.entry import (
    ENTRY_FIELDS,
    canonical_entry_bytes,
    entry_leaf_hash,
    entry_problem,
)
from consent.ledger.rfc9162 import MemoryMerkleLog, leaf_hash, verify_consistency
from consent.ledger.verifier import (
    _CANONICAL_ENTRY_LINE,
    export_checkpoint_line,
    export_entry_line,
    export_error_line,
    read_trusted_checkpoint,
    verify_export,
)

ORIGIN = "egate.test/disclosure-ledger"
CHECKPOINT_SIZES = (20, 38, 50)
CHECKPOINT_LINES = {20: 21, 38: 40, 50: 53}
KEY = Ed25519PrivateKey.generate()
VKEY = public_key_to_vkey(ORIGIN, KEY.public_key())


def make_entry(index: int) -> dict[str, Any]:
    legal = index % 7 == 3
    return {
        "index": index,
        "entry_id": f"dl-{index:04d}",
        "recorded_at": f"2025-06-{1 + index % 28:02d}T09:{index % 60:02d}:00.{index:06d}Z",
        "resident_id": f"resident-{index % 9}",
        "recipient_client_id": "td-licensing" if index % 2 else "hd-housing",
        "recipient_department": "運輸署" if index % 2 else "Housing Department",
        "channel": ("id_token", "userinfo", "form_prefill")[index % 3],
        "fields": sorted({"name_en", "email", f"extra_{index % 4}"}),
        # A quote forces the escaped (json) path for some lines; CJK stays on the fast path.
        "purpose": 'Renewal of a "driving licence"' if index % 5 == 0 else "續期駕駛執照",
        "basis": "legal" if legal else "consent",
        "grant_id": None if legal else f"grant-{index}",
        "legal_basis": "Cap. 374 s. 42" if legal else None,
        "request_id": f"req-{index:08x}",
    }


def signed_line(size: int, root: bytes, key: Ed25519PrivateKey = KEY, name: str = ORIGIN) -> str:
    return export_checkpoint_line(sign(Checkpoint(ORIGIN, size, root, 1_750_000_000 + size), key, name))


def build_export(count: int = 50) -> tuple[list[str], MemoryMerkleLog]:
    log = MemoryMerkleLog()
    lines = []
    for index in range(count):
        entry = make_entry(index)
        log.append(entry_leaf_hash(entry))
        lines.append(export_entry_line(entry))
        if log.size in CHECKPOINT_SIZES:
            lines.append(signed_line(log.size, log.root()))
    return lines, log


@pytest.fixture
def export() -> list[str]:
    return build_export()[0]


def entry_at(lines: list[str], line_no: int) -> dict[str, Any]:
    record = json.loads(lines[line_no - 1])
    assert record.pop("type") == "entry"
    return record


def put_entry(lines: list[str], line_no: int, entry: dict[str, Any]) -> None:
    lines[line_no - 1] = export_entry_line(entry)


def assert_fails(lines: list[str], line: int, *fragments: str, **options: Any) -> None:
    report = verify_export(lines, VKEY, **options)
    assert not report.ok
    assert report.error_line == line, report.first_error
    assert report.first_error is not None
    assert report.first_error.startswith(f"line {line}: ")
    for fragment in fragments:
        assert fragment in report.first_error


# --- a clean export ---------------------------------------------------------------------


def test_clean_export_verifies(export: list[str]) -> None:
    report = verify_export(export, VKEY)
    assert report.ok, report.first_error
    assert (report.entries_checked, report.checkpoints_checked) == (50, 3)
    assert report.first_error is None and report.error_line is None
    assert report.last_checkpoint is not None and report.last_checkpoint.tree_size == 50


def test_clean_export_verifies_with_each_key_form(export: list[str]) -> None:
    verifier_key = public_key_from_vkey(VKEY)
    assert verify_export(export, verifier_key).ok
    assert verify_export(export, KEY.public_key()).ok
    assert verify_export(export, KEY.public_key(), key_name=ORIGIN).ok
    assert verify_export(export, VKEY, origin=ORIGIN).ok


def test_clean_export_verifies_streaming_from_a_file(export: list[str], tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(export) + "\n", encoding="utf-8")
    with path.open(encoding="utf-8") as lines:
        assert verify_export(lines, VKEY).ok


def test_checkpoint_roots_are_those_of_the_log_and_mutually_consistent() -> None:
    lines, log = build_export()
    roots = {}
    for size, line in CHECKPOINT_LINES.items():
        report = verify_export(lines[:line], VKEY)
        assert report.ok and report.last_checkpoint is not None
        roots[size] = report.last_checkpoint.root_hash
        assert roots[size] == log.root(size)
    for old, new in ((20, 38), (38, 50), (20, 50)):
        proof = log.consistency_proof(old, new)
        assert verify_consistency(old, new, roots[old], roots[new], proof)


def test_reformatted_but_equal_entries_still_verify(export: list[str]) -> None:
    # json.dumps defaults: spaces, \\u escapes, the key order of the dict.
    for line_no in (1, 5, 22, 41):
        entry = entry_at(export, line_no)
        export[line_no - 1] = json.dumps({"type": "entry", **dict(reversed(entry.items()))})
    assert verify_export(export, VKEY).ok


def test_blank_lines_are_ignored(export: list[str]) -> None:
    export.insert(10, "")
    export.insert(30, "   ")
    assert verify_export([line + "\n" for line in export], VKEY).ok


# --- deletion, insertion, reordering ------------------------------------------------------


def test_deleted_entry_is_reported_at_the_next_entry(export: list[str]) -> None:
    del export[14 - 1]  # entry 13
    assert_fails(export, 14, "entry index 14 expected 13 (an entry was deleted or reordered)")


def test_deleted_and_renumbered_entries_are_caught_by_the_checkpoint(export: list[str]) -> None:
    del export[6 - 1]  # entry 5
    for line_no in range(6, 20):
        entry = entry_at(export, line_no)
        entry["index"] -= 1
        put_entry(export, line_no, entry)
    # 19 entries now precede the size-20 checkpoint, which moved up to line 20.
    assert_fails(export, 20, "checkpoint at size 20 follows only 19 entries")


def test_deleted_tail_before_the_last_checkpoint(export: list[str]) -> None:
    del export[50:52]  # entries 48 and 49
    assert_fails(export, 51, "checkpoint at size 50 follows only 48 entries", "48..49")


def test_inserted_entry_is_reported(export: list[str]) -> None:
    intruder = make_entry(12) | {"entry_id": "dl-intruder", "purpose": "Fishing"}
    export.insert(12, export_entry_line(intruder))  # after entry 11, on line 13
    assert_fails(export, 14, "entry index 12 expected 13 (an entry was inserted or reordered)")


def test_inserted_and_renumbered_entries_are_caught_by_the_checkpoint(export: list[str]) -> None:
    intruder = make_entry(30) | {"entry_id": "dl-intruder", "index": 30}
    export.insert(31, export_entry_line(intruder))  # becomes entry 30 on line 32
    for line_no in range(33, 41):
        entry = entry_at(export, line_no)
        entry["index"] += 1
        put_entry(export, line_no, entry)
    # Entry 37 of the original log (now 38) sits where the checkpoint was; the checkpoint
    # now follows 39 entries.
    assert_fails(export, 41, "checkpoint at size 38 appears after entry 38")


def test_swapped_entries_are_reported(export: list[str]) -> None:
    export[10], export[11] = export[11], export[10]
    assert_fails(export, 11, "entry index 11 expected 10")


def test_swapped_entries_with_swapped_indices_are_caught_by_the_checkpoint(
    export: list[str],
) -> None:
    first, second = entry_at(export, 11), entry_at(export, 12)
    first["index"], second["index"] = second["index"], first["index"]
    put_entry(export, 11, second)
    put_entry(export, 12, first)
    assert_fails(export, 21, "checkpoint at size 20 does not match the entries (root differs)")


# --- alteration of any field --------------------------------------------------------------


def altered(entry: dict[str, Any], field: str) -> dict[str, Any]:
    changed = dict(entry)
    value = entry[field]
    if field == "basis":
        legal = value == "consent"
        changed |= {
            "basis": "legal" if legal else "consent",
            "legal_basis": "Cap. 1" if legal else None,
            "grant_id": None if legal else "grant-x",
        }
    elif field == "fields":
        changed["fields"] = sorted([*value, "hkid_number"])
    elif field == "legal_basis":
        changed["legal_basis"] = "Cap. 999" if value is None else value + " (amended)"
    elif field == "grant_id":
        changed["grant_id"] = "grant-forged"
    elif field == "recorded_at":
        changed["recorded_at"] = value.replace("2025-", "2024-")
    else:
        changed[field] = value + "x"
    assert entry_problem(changed) is None
    return changed


@pytest.mark.parametrize("field", [f for f in ENTRY_FIELDS if f != "index"])
@pytest.mark.parametrize(("line_no", "checkpoint_line"), [(2, 21), (32, 40), (52, 53)])
def test_changing_any_field_is_caught_by_the_next_checkpoint(
    export: list[str], field: str, line_no: int, checkpoint_line: int
) -> None:
    put_entry(export, line_no, altered(entry_at(export, line_no), field))
    size = {21: 20, 40: 38, 53: 50}[checkpoint_line]
    assert_fails(
        export,
        checkpoint_line,
        f"checkpoint at size {size} does not match the entries (root differs)",
        "changed, inserted or removed",
    )


def test_changing_an_index_is_reported_at_that_entry(export: list[str]) -> None:
    entry = entry_at(export, 17)
    put_entry(export, 17, entry | {"index": 99})
    assert_fails(export, 17, "entry index 99 expected 16")


# --- checkpoints ----------------------------------------------------------------------------


def test_forged_checkpoint_root_fails_its_signature(export: list[str]) -> None:
    note = json.loads(export[40 - 1])["note"]
    body_lines = note.split("\n")
    body_lines[2] = "A" * 43 + "="
    export[40 - 1] = export_checkpoint_line("\n".join(body_lines))
    assert_fails(export, 40, "checkpoint rejected", "does not verify")


def test_checkpoint_signed_by_another_key_is_rejected(export: list[str]) -> None:
    _, log = build_export()
    export[40 - 1] = signed_line(38, log.root(38), key=Ed25519PrivateKey.generate())
    assert_fails(export, 40, "checkpoint rejected", "not signed by")


def test_genuinely_signed_checkpoint_with_wrong_root_is_rejected(export: list[str]) -> None:
    _, log = build_export()
    export[40 - 1] = signed_line(38, log.root(37))
    assert_fails(export, 40, "checkpoint at size 38 does not match the entries (root differs)")


def test_checkpoint_sizes_must_not_decrease(export: list[str]) -> None:
    export.insert(40, export[21 - 1])  # the size-20 checkpoint again, after size 38
    assert_fails(export, 41, "checkpoint size 20 is smaller than the previous checkpoint's 38")


def test_repeated_checkpoint_at_the_same_size_is_fine(export: list[str]) -> None:
    export.insert(40, export[40 - 1])
    assert verify_export(export, VKEY).ok


def test_checkpoint_from_another_origin_is_rejected(export: list[str]) -> None:
    assert_fails(export, 21, "origin", origin="elsewhere.example/log")


def test_checkpoint_line_must_hold_only_a_note(export: list[str]) -> None:
    record = json.loads(export[21 - 1]) | {"extra": 1}
    export[21 - 1] = json.dumps(record)
    assert_fails(export, 21, "exactly a 'note'")


# --- malformed lines and entries ------------------------------------------------------------


def test_invalid_json_is_reported(export: list[str]) -> None:
    export[3 - 1] = export[3 - 1][:-5]
    assert_fails(export, 3, "not valid JSON")


@pytest.mark.parametrize("line", ["[1, 2]", '"entry"', '{"type": "gossip"}', '{"index": 0}'])
def test_unknown_lines_are_reported(export: list[str], line: str) -> None:
    export[2 - 1] = line
    assert_fails(export, 2)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("email", "list of field names"),
        ([1, 2], "list of field names"),
        (["email", None], "list of field names"),
        ([], "list of field names"),
        ([""], "list of field names"),
        (["name_en", "email"], "sorted"),
        (["email", "email"], "sorted"),
    ],
)
def test_fields_must_be_a_sorted_list_of_names(export: list[str], fields: object, message: str) -> None:
    put_entry(export, 8, entry_at(export, 8) | {"fields": fields})
    assert_fails(export, 8, message)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"index": "7"}, "not an integer"),
        ({"index": True}, "not an integer"),
        ({"resident_id": None}, "resident_id must be a non-empty string"),
        ({"purpose": ""}, "purpose must be a non-empty string"),
        ({"recorded_at": "2025-06-08 09:07:00"}, "RFC 3339"),
        ({"basis": "whim"}, "basis must be"),
        ({"basis": "consent", "grant_id": None}, "no grant_id"),
        ({"values": {"email": "a@b"}}, "unexpected values"),
    ],
)
def test_malformed_entries_are_reported(export: list[str], change: dict[str, Any], message: str) -> None:
    put_entry(export, 8, entry_at(export, 8) | change)
    assert_fails(export, 8, message)


def test_missing_field_is_reported(export: list[str]) -> None:
    entry = entry_at(export, 9)
    del entry["request_id"]
    put_entry(export, 9, entry)
    assert_fails(export, 9, "missing request_id")


def test_duplicate_entry_id_is_reported(export: list[str]) -> None:
    put_entry(export, 27, entry_at(export, 27) | {"entry_id": "dl-0003"})
    assert_fails(export, 27, "entry_id 'dl-0003' is used by an earlier entry")


def test_invalid_utf8_is_reported(export: list[str], tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_bytes(("\n".join(export[:5]) + "\n").encode() + b'{"type": "\xff"}\n')
    with path.open(encoding="utf-8") as lines:
        report = verify_export(lines, VKEY)
    assert not report.ok and report.first_error is not None
    assert "UTF-8" in report.first_error


@pytest.mark.parametrize("surrogate", ["\\ud800", "\ud800"])
def test_lone_surrogates_are_reported(export: list[str], surrogate: str) -> None:
    export[4 - 1] = export[4 - 1].replace('"channel":"', '"channel":"' + surrogate)
    assert_fails(export, 4, "not valid Unicode")


def test_absurd_numbers_are_rejected_not_crashed_on(export: list[str]) -> None:
    export[2 - 1] = export[2 - 1].replace('"index":1,', '"index":1' + "0" * 5000 + ",")
    assert_fails(export, 2)
    export[2 - 1] = export_entry_line(make_entry(1))
    body = f"{ORIGIN}\n{'9' * 5000}\n{'A' * 43}=\ntime 1\n"
    export[21 - 1] = export_checkpoint_line(sign_note(body, KEY, ORIGIN))
    assert_fails(export, 21, "checkpoint rejected", "not a decimal number")


# --- the tail after the last checkpoint -------------------------------------------------------


def test_uncovered_tail_is_reported(export: list[str]) -> None:
    del export[53 - 1]
    assert_fails(export, 41, "entries 38..49 are not covered by any checkpoint")
    report = verify_export(export, VKEY, allow_uncovered_tail=True)
    assert report.ok and report.uncovered_entries == 12


def test_change_in_uncovered_tail_is_undetectable_by_design(export: list[str]) -> None:
    del export[53 - 1]
    put_entry(export, 45, altered(entry_at(export, 45), "recipient_client_id"))
    assert verify_export(export, VKEY, allow_uncovered_tail=True).ok


def test_export_without_checkpoints_is_entirely_uncovered() -> None:
    lines = [export_entry_line(make_entry(i)) for i in range(3)]
    assert_fails(lines, 1, "entries 0..2 are not covered")


def test_empty_export_verifies() -> None:
    report = verify_export([], VKEY)
    assert report.ok and report.entries_checked == 0


# --- a checkpoint obtained elsewhere: truncation and rollback ---------------------------------


def trusted_note(size: int, log: MemoryMerkleLog, key: Ed25519PrivateKey = KEY) -> str:
    return sign(Checkpoint(ORIGIN, size, log.root(size), 1_760_000_000), key, ORIGIN)


def test_an_export_consistent_with_a_trusted_checkpoint_verifies() -> None:
    lines, log = build_export()
    for size in (0, 20, 33, 50):
        report = verify_export(lines, VKEY, trusted_checkpoint=trusted_note(size, log))
        assert report.ok, report.first_error
        assert report.trusted_checkpoint is not None and report.trusted_checkpoint.tree_size == size


def test_a_truncated_export_verifies_alone_but_not_against_a_trusted_checkpoint() -> None:
    lines, log = build_export()
    truncated = lines[: CHECKPOINT_LINES[38]]  # cut back to the checkpoint of size 38
    assert verify_export(truncated, VKEY).ok
    assert_fails(
        truncated,
        41,
        "the export ends after 38 entries, but the trusted checkpoint commits to 50",
        "truncation or rollback",
        trusted_checkpoint=trusted_note(50, log),
    )
    assert_fails([], 1, "ends after 0 entries", trusted_checkpoint=trusted_note(50, log))


def test_a_rewritten_history_verifies_alone_but_not_against_a_trusted_checkpoint() -> None:
    lines, log = build_export()
    # The same key signs a different history after entry 37 (a fork, or a rollback re-signed).
    forked = lines[: CHECKPOINT_LINES[38]]
    fork = MemoryMerkleLog()
    for index in range(38):
        fork.append(log.get_node(0, index))
    for index in range(38, 50):
        entry = make_entry(index) | {"purpose": "rewritten"}
        fork.append(entry_leaf_hash(entry))
        forked.append(export_entry_line(entry))
    forked.append(signed_line(50, fork.root()))
    assert verify_export(forked, VKEY).ok
    assert_fails(
        forked,
        52,
        "entries 0..49 do not match the trusted checkpoint at size 50",
        "rollback or fork",
        trusted_checkpoint=trusted_note(50, log),
    )


def test_a_trusted_checkpoint_covers_the_entries_below_it(export: list[str]) -> None:
    _, log = build_export()
    del export[53 - 1]  # the export's own last checkpoint (50) is gone: 38..49 uncovered
    assert not verify_export(export, VKEY).ok
    report = verify_export(export, VKEY, trusted_checkpoint=trusted_note(50, log))
    assert report.ok and report.uncovered_entries == 0


def test_a_trusted_checkpoint_must_be_signed_by_the_key_and_of_the_same_log() -> None:
    lines, log = build_export()
    with pytest.raises(CheckpointError, match="not signed by"):
        verify_export(lines, VKEY, trusted_checkpoint=trusted_note(50, log, Ed25519PrivateKey.generate()))
    with pytest.raises(CheckpointError, match="origin"):
        verify_export(lines, VKEY, origin="another/log", trusted_checkpoint=trusted_note(50, log))


def test_a_trusted_checkpoint_is_read_as_a_note_or_as_json_holding_one() -> None:
    _, log = build_export()
    note = trusted_note(20, log)
    assert read_trusted_checkpoint(note) == note
    assert read_trusted_checkpoint(export_checkpoint_line(note)) == note
    assert read_trusted_checkpoint(json.dumps({"tree_size": 20, "note": note}, indent=2)) == note
    with pytest.raises(CheckpointError):
        read_trusted_checkpoint('{"tree_size": 20}')


def test_an_export_the_server_stopped_ends_in_an_error_line_the_verifier_reports(export: list[str]) -> None:
    cut = export[:30] + [export_error_line("entry 29 is missing")]
    assert_fails(cut, 31, "the export is incomplete, the server stopped it: entry 29 is missing")


# --- the fast path and the json path agree ---------------------------------------------------


TRICKY_VALUES: list[Callable[[dict[str, Any]], dict[str, Any]]] = [
    lambda e: e,
    lambda e: e | {"purpose": "línea ☃ 𝄞 with spaces, commas: and [brackets]"},
    lambda e: e | {"purpose": 'quote " and backslash \\ and tab \t'},
    lambda e: e | {"recipient_department": "\u2028\u007f"},
    lambda e: e | {"fields": ["a"]},
    lambda e: e | {"recorded_at": "2025-06-01T09:00:00Z"},
    lambda e: e | {"purpose": "Renewal"},
]


@pytest.mark.parametrize("change", TRICKY_VALUES)
def test_fast_path_hashes_exactly_the_canonical_bytes(change) -> None:
    entry = change(make_entry(0))
    line = export_entry_line(entry)
    match = _CANONICAL_ENTRY_LINE(line + "\n")
    if match is not None:
        assert (match.group(1) + "}").encode() == canonical_entry_bytes(entry)
    lines = [line, signed_line(1, leaf_hash(canonical_entry_bytes(entry)))]
    assert verify_export(lines, VKEY).ok


def test_fast_path_is_taken_for_ordinary_entries() -> None:
    assert _CANONICAL_ENTRY_LINE(export_entry_line(make_entry(1))) is not None
    assert _CANONICAL_ENTRY_LINE(export_entry_line(make_entry(5))) is None  # has a quote


def test_sign_in_entries_must_carry_neither_grant_nor_legal_basis():
    from consent.ledger.entry import entry_problem

    base = {
        "index": 0,
        "entry_id": "e1",
        "recorded_at": "2026-11-22T00:00:00Z",
        "resident_id": "r1",
        "recipient_client_id": "c1",
        "recipient_department": "TD",
        "channel": "id_token",
        "fields": ["sub"],
        "purpose": "Sign in",
        "basis": "sign-in",
        "grant_id": None,
        "legal_basis": None,
        "request_id": "req-1",
    }
    assert entry_problem(base) is None
    assert "neither" in entry_problem({**base, "grant_id": "g1"})
    assert "neither" in entry_problem({**base, "legal_basis": "Cap. 1"})
