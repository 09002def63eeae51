"""The forms hub's catalogue is complete: every message its pages and notifications use has a
Traditional Chinese translation."""

from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

from forms_hub import i18n as hub_i18n
from forms_hub.web.page_helpers import NOTICES
from forms_hub.web.rendering import TEMPLATES_DIR
from kit.i18n import CHINESE, ENGLISH

OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}


def _template_messages() -> set[str]:
    found = set()
    for path in sorted(TEMPLATES_DIR.rglob("*.html")):
        with path.open("rb") as handle:
            for _line, _func, message, _comments in babel_extract(handle, ("_", "gettext"), [], OPTIONS):
                text = message[0] if isinstance(message, tuple) else message
                if text:
                    found.add(text)
    return found


def test_every_message_has_a_traditional_chinese_translation():
    with hub_i18n.CATALOGUES.po_file(CHINESE).open("rb") as handle:
        catalog = read_po(handle)
    wanted = _template_messages() | set(NOTICES.values()) | {"Page not found", "Something went wrong"}
    assert len(wanted) > 100
    missing = sorted(m for m in wanted if not (catalog.get(m) and catalog.get(m).string))
    assert missing == []
    named = [
        (hub_i18n.STATUS_CONTEXT, hub_i18n.STATUS_NAMES),
        (hub_i18n.LICENCE_STATUS_CONTEXT, hub_i18n.LICENCE_STATUS_NAMES),
        (hub_i18n.ACTION_CONTEXT, hub_i18n.ACTION_NAMES),
        (hub_i18n.LEVEL_CONTEXT, hub_i18n.LEVEL_NAMES),
        (hub_i18n.LEVEL_NEEDED_CONTEXT, hub_i18n.LEVEL_NEEDED_NAMES),
    ]
    for context, names in named:
        for english in names.values():
            assert catalog.get(english, context=context).string, (context, english)


def test_the_same_word_is_translated_by_its_role():
    assert hub_i18n.gettext(CHINESE, "Submitted") == "提交日期"  # a column heading
    assert hub_i18n.status_name("submitted", CHINESE) == "已提交"
    assert hub_i18n.action_name("unassign", CHINESE) == "取消分派"
    assert hub_i18n.gettext(CHINESE, "Unassigned") == "未分派"
    assert hub_i18n.status_name("submitted", ENGLISH) == "Submitted"
    assert hub_i18n.status_name("no-such-status", CHINESE) == "no-such-status"
    assert hub_i18n.identity_level_name("in_person", CHINESE) == "已親身核實"
    assert hub_i18n.level_needed_name("remote", ENGLISH) == "An identity proofed remotely or in person"


def test_notifications_in_both_languages():
    params = {"title": {"en": "Food licence", "zh-HK": "食物牌照"}, "status": "approved", "reference": "R-1"}
    assert hub_i18n.notification_text("status_changed", {**params, "licence": "L-9"}, ENGLISH) == (
        "Food licence: R-1 is now approved. Licence number: L-9."
    )
    assert hub_i18n.notification_text("status_changed", {**params, "reason": "完成"}, CHINESE) == (
        "食物牌照：R-1 現時狀態為「已批准」。（完成）"
    )
    expiring = {"licence": "L-9", "valid_to": "2027-01-31"}
    assert hub_i18n.notification_text("licence_expiring", expiring, CHINESE) == (
        "你的牌照 L-9 將於 2027-01-31 屆滿，現可申請續期。"
    )
    suspended = {"licence": "L-9", "status": "suspended", "reason": "inspection"}
    assert hub_i18n.notification_text("licence_status", suspended, ENGLISH) == (
        "Your licence L-9 is now suspended: inspection"
    )
