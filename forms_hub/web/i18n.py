"""English and Traditional Chinese for the forms hub's pages.

Form definitions carry their own labels in both languages; this catalogue holds only the
hub's own words. The language is chosen as on the provider's pages (same ``lang`` cookie,
so a resident's choice carries across): ``?lang=``, the ``lang`` cookie, then
``Accept-Language``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request

ENGLISH, CHINESE = "en", "zh-HK"
LANGUAGES = (ENGLISH, CHINESE)
LANG_COOKIE = "lang"
HTML_LANG = {ENGLISH: "en", CHINESE: "zh-Hant-HK"}
LANGUAGE_NAMES = {ENGLISH: "English", CHINESE: "繁體中文"}

STATUS_NAMES = {
    "draft": ("Draft", "草稿"),
    "submitted": ("Submitted", "已提交"),
    "in_review": ("In review", "審核中"),
    "info_requested": ("More information needed", "需要補充資料"),
    "approved": ("Approved", "已批准"),
    "rejected": ("Rejected", "不獲批准"),
    "withdrawn": ("Withdrawn", "已撤回"),
}
LICENCE_STATUS_NAMES = {
    "valid": ("Valid", "有效"),
    "active": ("Active", "有效"),
    "not_yet_valid": ("Not yet valid", "尚未生效"),
    "expired": ("Expired", "已過期"),
    "suspended": ("Suspended", "已暫停"),
    "revoked": ("Revoked", "已撤銷"),
    "not_found": ("No such licence", "沒有此牌照"),
}
ACTION_NAMES = {
    "create": ("Draft started", "開始填寫草稿"),
    "migrate": ("Moved to the new version of the form", "已轉至表格新版本"),
    "submit": ("Submitted", "已提交"),
    "start_review": ("Review started", "開始審核"),
    "request_info": ("More information requested", "要求補充資料"),
    "resubmit": ("Information sent", "已補交資料"),
    "approve": ("Approved", "已批准"),
    "reject": ("Rejected", "不獲批准"),
    "withdraw": ("Withdrawn", "已撤回"),
    "assign": ("Assigned", "已分派"),
    "unassign": ("Unassigned", "取消分派"),
}

CATALOGUE: dict[str, str] = {
    "Skip to main content": "跳至主要內容",
    "e-Gateway forms": "電子通道表格",
    "Language": "語言",
    "Sign in": "登入",
    "Sign out": "登出",
    "Forms": "表格",
    "My applications": "我的申請",
    "Notifications": "通知",
    "Licences": "牌照",
    "Officer queue": "審批工作",
    "Verify a licence": "核實牌照",
    "Verify a receipt": "核實收據",
    "Government forms online": "網上政府表格",
    "Start": "開始",
    "Department": "部門",
    "Licence application": "牌照申請",
    "Sign in with e-Gateway to fill in and submit forms.": "請以電子通道登入以填寫及提交表格。",
    "Log in with e-Gateway": "以電子通道登入",
    "Drafts": "草稿",
    "Submitted applications": "已提交的申請",
    "You have no drafts.": "你沒有草稿。",
    "You have not submitted anything yet.": "你尚未提交任何申請。",
    "Reference": "參考編號",
    "Form": "表格",
    "Status": "狀態",
    "Last saved": "最後儲存",
    "Submitted": "提交日期",
    "Continue": "繼續",
    "View": "查看",
    "Expires": "屆滿",
    "Save draft": "儲存草稿",
    "Submit": "提交",
    "Send information": "補交資料",
    "Discard draft": "刪除草稿",
    "Fill from my identity": "從我的身份資料填寫",
    "Filled from your identity; it cannot be changed here.": "此項由你的身份資料填寫，不能在此更改。",
    "Filled from your identity; you may change it.": "此項由你的身份資料填寫，你可以更改。",
    "Attachments": "附件",
    "Attach": "附上",
    "Remove": "移除",
    "Allowed": "接受格式",
    "up to": "最大",
    "required": "必須提交",
    "optional": "可選",
    "Your draft was saved.": "你的草稿已儲存。",
    "The file was attached.": "檔案已附上。",
    "The file was removed.": "檔案已移除。",
    "Your details were filled from your identity.": "已從你的身份資料填寫。",
    "No details were released, so nothing was filled.": "沒有資料獲發放，因此沒有填寫任何內容。",
    "There is a problem": "出現問題",
    "Use details from your identity": "使用你的身份資料",
    "The following answers will be filled from your e-Gateway identity for this form of": (
        "以下答案將從你的電子通道身份資料填寫，供此表格使用，部門："
    ),
    "Answer": "答案",
    "From your identity": "身份資料",
    "Read-only": "不可更改",
    "Editable": "可更改",
    "Purpose": "目的",
    "Your identity provider will ask you to confirm. The release is recorded in your disclosure record.": (
        "電子通道會請你確認。是次資料發放會記錄在你的資料披露紀錄中。"
    ),
    "Agree and continue": "同意並繼續",
    "Cancel": "取消",
    "Application submitted": "申請已提交",
    "Your reference number is": "你的參考編號是",
    "Print this receipt": "列印收據",
    "Signed receipt": "已簽署收據",
    "Anyone can check this receipt against the forms hub's published key.": (
        "任何人都可以用表格中心公開的密鑰核實此收據。"
    ),
    "Answers fingerprint (SHA-256)": "答案指紋（SHA-256）",
    "History": "紀錄",
    "When": "時間",
    "What": "事項",
    "Note": "備註",
    "Withdraw application": "撤回申請",
    "Reason (optional)": "原因（可選）",
    "The department asked for more information": "部門要求補充資料",
    "Answer the department": "回覆部門",
    "Receipt": "收據",
    "You have no notifications.": "你沒有通知。",
    "Mark all as read": "全部標示為已讀",
    "You hold no licences.": "你沒有持有任何牌照。",
    "Licence number": "牌照號碼",
    "Type": "類別",
    "Valid from": "有效期由",
    "Valid to": "有效期至",
    "Conditions": "條件",
    "Holder": "持牌人",
    "Apply to renew": "申請續期",
    "Scan to verify": "掃描以核實",
    "Check whether a licence is valid": "核實牌照是否有效",
    "Check": "核實",
    "This check shows no personal data.": "此核實不會顯示任何個人資料。",
    "Issued by": "簽發部門",
    "Checked at": "核實時間",
    "Paste the receipt": "貼上收據",
    "The receipt is genuine.": "收據真確。",
    "The receipt is not genuine": "收據並非真確",
    "Queue": "工作列表",
    "All statuses": "所有狀態",
    "All forms": "所有表格",
    "Anyone": "任何人",
    "Assigned to me": "分派給我",
    "Unassigned": "未分派",
    "Oldest first": "最舊優先",
    "Newest first": "最新優先",
    "Filter": "篩選",
    "Next page": "下一頁",
    "Nothing in the queue.": "工作列表中沒有項目。",
    "Assigned to": "負責人員",
    "Assign to me": "分派給我",
    "Start review": "開始審核",
    "Request information": "要求補充資料",
    "Approve": "批准",
    "Reject": "拒絕",
    "Reason": "原因",
    "Extra licence conditions (one per line)": "額外牌照條件（每行一項）",
    "Answers": "答案",
    "Licence issued": "已簽發牌照",
    "Download": "下載",
    "Page not found": "找不到網頁",
    "Something went wrong": "出現錯誤",
    "Back to forms": "返回表格列表",
    "Yes": "是",
    "No": "否",
    "A newer version of this form exists. You can still submit this draft until": (
        "此表格已有新版本。你仍可於以下日期前提交此草稿："
    ),
    "This form has a new version. Your draft was moved to it: check your answers.": (
        "此表格已有新版本。你的草稿已轉至新版本：請檢查你的答案。"
    ),
    "This form is no longer open. The draft cannot be submitted.": "此表格已停止接受申請，草稿不能提交。",
    "Drafts are kept for 30 days after they were last saved.": "草稿會在最後儲存後保留30天。",
    "Receipt verification": "核實收據",
    "You are signed in as an officer of": "你以以下部門人員身份登入：",
    "Licence": "牌照",
    "Suspend": "暫停",
    "Reinstate": "恢復",
    "Revoke": "撤銷",
    "Help": "說明",
    "Select": "請選擇",
    "Your applications": "你的申請",
    "Renews licence": "續期牌照",
    "Licence actions": "牌照操作",
}


def choose_language(request: Request) -> str:
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh") and "hans" not in tag and not tag.startswith(("zh-cn", "zh-sg")):
            return CHINESE
        if tag.startswith("en"):
            return ENGLISH
    return ENGLISH


def translator(lang: str) -> Callable[[str], str]:
    if lang == CHINESE:
        return lambda text: CATALOGUE.get(text, text)
    return lambda text: text


def pick(pair: tuple[str, str] | dict[str, str] | None, lang: str) -> str:
    if pair is None:
        return ""
    if isinstance(pair, dict):
        return pair.get(lang) or pair.get(ENGLISH, "")
    return pair[1] if lang == CHINESE else pair[0]


def status_name(status: str, lang: str) -> str:
    return pick(STATUS_NAMES.get(status, (status, status)), lang)


def notification_text(kind: str, params: dict[str, Any], lang: str) -> str:
    zh = lang == CHINESE
    if kind == "status_changed":
        title = pick(params.get("title"), lang)
        status = status_name(params.get("status", ""), lang)
        reference = params.get("reference") or ""
        text = (
            f"{title}：{reference} 現時狀態為「{status}」。"
            if zh
            else f"{title}: {reference} is now {status.lower()}."
        )
        if params.get("reason"):
            text += f"（{params['reason']}）" if zh else f" ({params['reason']})"
        if params.get("licence"):
            text += f" 牌照號碼：{params['licence']}。" if zh else f" Licence number: {params['licence']}."
        return text
    if kind == "licence_expiring":
        if zh:
            return f"你的牌照 {params.get('licence')} 將於 {params.get('valid_to')} 屆滿，現可申請續期。"
        number, until = params.get("licence"), params.get("valid_to")
        return f"Your licence {number} expires on {until}. You can apply to renew it now."
    if kind == "licence_status":
        status = pick(LICENCE_STATUS_NAMES.get(params.get("status", ""), ("", "")), lang)
        if zh:
            return f"你的牌照 {params.get('licence')} 現時狀態為「{status}」：{params.get('reason', '')}"
        return f"Your licence {params.get('licence')} is now {status.lower()}: {params.get('reason', '')}"
    return kind
