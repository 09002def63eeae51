"""The forms hub's words in both languages, from the one catalogue (kit/locales; its
completeness is tests/kit/test_catalogue.py's): a word is translated by its role, and
notifications read well in each language."""

from forms_hub import i18n as hub_i18n
from forms_hub.web.page_helpers import NOTICES
from kit.i18n import CHINESE, ENGLISH


def test_the_same_word_is_translated_by_its_role():
    assert hub_i18n.gettext(CHINESE, NOTICES["saved"]) == "你的草稿已儲存。"
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
