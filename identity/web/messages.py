# ruff: noqa: E501 - one message per line, as translators search for them
"""Stable message codes (from services and forms) and their English text, which is also the
msgid translators see in the .po catalogues."""

from __future__ import annotations

MESSAGES: dict[str, str] = {
    # Enrolment and profile fields
    "hkid.required": "Enter your identity card number.",
    "hkid.format": "Enter an identity card number like A123456(7): one or two letters, six digits and the check digit.",
    "hkid.check_digit": "This identity card number is not valid: check the digit in brackets.",
    "hkid.taken": "This identity card number cannot be enrolled. If you already have an account, sign in or reset your password.",
    "name.required": "Enter your name in English as on your identity card.",
    "name.format": "Enter your English name using letters, spaces, commas, full stops, hyphens or apostrophes.",
    "name_zh.format": "Enter your Chinese name in Chinese characters (up to 20).",
    "gender.required": "Choose your gender.",
    "birthdate.required": "Enter your date of birth.",
    "birthdate.format": "Enter your date of birth as a real date, for example 1990-07-31.",
    "birthdate.range": "Enter a date of birth in the past.",
    "birthdate.too_young": "You must be 11 or older to enrol.",
    "address.required": "Enter your residential address.",
    "address.too_long": "Enter an address of 300 characters or fewer.",
    "phone.required": "Enter your mobile phone number.",
    "phone.format": "Enter a mobile number like 9123 4567, or with its country code like +44 7700 900123.",
    "email.required": "Enter your email address.",
    "email.format": "Enter an email address like name@example.com.",
    "email.taken": "This email address cannot be used. If you already have an account, sign in or reset your password.",
    "password.required": "Enter a password.",
    "password.too_short": "Use at least 8 characters for your password.",
    "password.too_long": "Use 256 characters or fewer for your password.",
    "password.common": "This password is too common and easy to guess: choose another.",
    "password.contextual": "Do not use your name or email address in your password.",
    "password.mismatch": "The two passwords do not match.",
    "password.wrong": "The password is not correct.",
    "code.required": "Enter the code.",
    "code.wrong": "The code is not correct or has expired.",
    "totp.wrong": "The code is not correct. Enter the 6-digit code your authenticator app shows now.",
    "username.format": "Enter a user name of 3 to 64 lower-case letters, digits, dots, hyphens or underscores.",
    "username.taken": "This user name is already in use.",
    "roles.unknown": "Choose one or more roles: officer, auditor, admin.",
    "department.required": "Enter the department.",
    # Sign-in
    "identifier.required": "Enter your identity card number, email address or user name.",
    "signin.wrong": "The sign-in details are not correct.",
    "signin.locked": "Too many attempts. For your security, sign-in is paused for a while.",
    "signin.suspended": "This account is suspended. Contact us to restore it.",
    "second_factor.wrong": "The code is not correct.",
    "second_factor.restart": "Please sign in again.",
    # Pages
    "csrf.title": "This form has expired",
    "csrf.detail": "For your security, go back, reload the page and submit the form again.",
    "notfound.title": "Page not found",
    "notice.consent_revoked": "The consent has been withdrawn. The department receives nothing more under it.",
    "app.unknown": "This sign-in request has ended. Go back and start again.",
    "notice.password_reset": "Your password has been reset and every session was signed out. Sign in with your new password.",
    "notice.signed_out": "You have signed out.",
    "notice.password_changed": "Your password has been changed. Your other sessions were signed out.",
    "notice.totp_disabled": "Two-step verification has been turned off.",
    "notice.sessions_ended": "Every other session has been signed out.",
    "notice.session_ended": "The session has been signed out.",
    "notice.profile_updated": "Your details have been saved.",
    "notice.email_verified": "Your email address has been verified.",
    "notice.phone_verified": "Your mobile number has been verified.",
    "notice.code_sent": "We have sent you a new code.",
    "notice.code_not_sent": "We could not send another code now. Try again later.",
    "notice.enrolled": "Your account has been created. Verify your email address to finish.",
    # Account activity (event tags)
    "event.account.enrolled": "Account created",
    "event.account.created": "Account created by an administrator",
    "event.signin.success": "Signed in",
    "event.signin.failure": "Sign-in failed: wrong password",
    "event.signin.second_factor_failure": "Sign-in failed: wrong verification code",
    "event.account.locked": "Sign-in paused after too many failed attempts",
    "event.totp.enabled": "Two-step verification turned on",
    "event.totp.disabled": "Two-step verification turned off",
    "event.recovery_codes.generated": "New recovery codes created",
    "event.recovery_code.used": "Recovery code used to sign in",
    "event.password.changed": "Password changed",
    "event.password.reset": "Password reset",
    "event.password.reset_requested": "Password reset requested",
    "event.session.ended": "Signed out",
    "event.sessions.ended_all": "Signed out everywhere",
    "event.profile.updated": "Contact details changed",
    "event.email.verified": "Email address verified",
    "event.phone.verified": "Mobile number verified",
}


def message_for(code: str | None) -> str:
    """English text for ``code`` (translate it with the page's gettext); unknown codes get a
    generic sentence rather than leaking an internal name."""
    if not code:
        return ""
    return MESSAGES.get(code, "Something is not right with this field.")
