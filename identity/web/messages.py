# ruff: noqa: E501 - one message per line, as translators search for them
"""Stable message codes (from services and forms) and their English text, which is also the
msgid translators see in the catalogue (kit/locales; ``N_`` marks them for pybabel extract)."""

from __future__ import annotations

from kit.i18n import N_

MESSAGES: dict[str, str] = {
    # Enrolment and profile fields
    "hkid.required": N_("Enter your identity card number."),
    "hkid.format": N_(
        "Enter an identity card number like A123456(7): one or two letters, six digits and the check digit."
    ),
    "hkid.check_digit": N_("This identity card number is not valid: check the digit in brackets."),
    "hkid.taken": N_(
        "This identity card number cannot be enrolled online. If you already have an account, sign in or reset your password. If the card is yours and you have no account, bring it to a registration counter: the card's real holder is always enrolled there."
    ),
    "name.required": N_("Enter your name in English as on your identity card."),
    "name.format": N_(
        "Enter your English name using letters, spaces, commas, full stops, hyphens or apostrophes."
    ),
    "name_zh.format": N_("Enter your Chinese name in Chinese characters (up to 20)."),
    "gender.required": N_("Choose your gender."),
    "birthdate.required": N_("Enter your date of birth."),
    "birthdate.format": N_("Enter your date of birth as a real date, for example 1990-07-31."),
    "birthdate.range": N_("Enter a date of birth in the past."),
    "birthdate.too_young": N_("You must be 11 or older to enrol."),
    "address.required": N_("Enter your residential address."),
    "address.too_long": N_("Enter an address of 300 characters or fewer."),
    "phone.required": N_("Enter your mobile phone number."),
    "phone.format": N_(
        "Enter a mobile number like 9123 4567, or with its country code like +44 7700 900123."
    ),
    "email.required": N_("Enter your email address."),
    "email.format": N_("Enter an email address like name@example.com."),
    "email.taken": N_(
        "This email address cannot be used. If you already have an account, sign in or reset your password."
    ),
    "password.required": N_("Enter a password."),
    "password.too_short": N_("Use at least 8 characters for your password."),
    "password.too_long": N_("Use 256 characters or fewer for your password."),
    "password.common": N_("This password is too common and easy to guess: choose another."),
    "password.contextual": N_("Do not use your name or email address in your password."),
    "password.mismatch": N_("The two passwords do not match."),
    "password.wrong": N_("The password is not correct."),
    "code.required": N_("Enter the code."),
    "code.wrong": N_("The code is not correct or has expired."),
    "totp.wrong": N_("The code is not correct. Enter the 6-digit code your authenticator app shows now."),
    "username.format": N_(
        "Enter a user name of 3 to 64 lower-case letters, digits, dots, hyphens or underscores."
    ),
    "username.taken": N_("This user name is already in use."),
    "roles.unknown": N_("Choose one or more roles: officer, auditor, admin, registrar."),
    "department.required": N_("Enter the department."),
    # Sign-in
    "identifier.required": N_("Enter your identity card number, email address or user name."),
    "signin.wrong": N_("The sign-in details are not correct."),
    "signin.locked": N_("Too many attempts. For your security, sign-in is paused for a while."),
    "signin.suspended": N_("This account is suspended. Contact us to restore it."),
    "second_factor.wrong": N_("The code is not correct."),
    "second_factor.restart": N_("Please sign in again."),
    # Pages
    "csrf.title": N_("This form has expired"),
    "csrf.detail": N_("For your security, go back, reload the page and submit the form again."),
    "notfound.title": N_("Page not found"),
    "notice.consent_revoked": N_(
        "The consent has been withdrawn. The department receives nothing more under it."
    ),
    "app.unknown": N_("This sign-in request has ended. Go back and start again."),
    "notice.password_reset": N_(
        "Your password has been reset and every session was signed out. Sign in with your new password."
    ),
    "notice.signed_out": N_("You have signed out."),
    "notice.password_changed": N_("Your password has been changed. Your other sessions were signed out."),
    "notice.totp_disabled": N_("Two-step verification has been turned off."),
    "notice.sessions_ended": N_("Every other session has been signed out."),
    "notice.session_ended": N_("The session has been signed out."),
    "notice.profile_updated": N_("Your details have been saved."),
    "notice.email_verified": N_("Your email address has been verified."),
    "notice.phone_verified": N_("Your mobile number has been verified."),
    "notice.code_sent": N_("We have sent you a new code."),
    "notice.code_not_sent": N_("We could not send another code now. Try again later."),
    "notice.enrolled": N_("Your account has been created. Verify your email address to finish."),
    # Account activity (event tags)
    "event.account.enrolled": N_("Account created"),
    "event.account.created": N_("Account created by an administrator"),
    "event.signin.success": N_("Signed in"),
    "event.signin.failure": N_("Sign-in failed: wrong password"),
    "event.signin.second_factor_failure": N_("Sign-in failed: wrong verification code"),
    "event.account.locked": N_("Sign-in paused after too many failed attempts"),
    "event.totp.enabled": N_("Two-step verification turned on"),
    "event.totp.disabled": N_("Two-step verification turned off"),
    "event.recovery_codes.generated": N_("New recovery codes created"),
    "event.recovery_code.used": N_("Recovery code used to sign in"),
    "event.password.changed": N_("Password changed"),
    "event.password.reset": N_("Password reset"),
    "event.password.reset_requested": N_("Password reset requested"),
    "event.session.ended": N_("Signed out"),
    "event.sessions.ended_all": N_("Signed out everywhere"),
    "event.profile.updated": N_("Contact details changed"),
    "event.email.verified": N_("Email address verified"),
    "event.phone.verified": N_("Mobile number verified"),
    # --- proofing ---
    "contact.required": N_("Enter a mobile phone number or an email address to send the activation code to."),
    "evidence.required": N_("Choose an image of your identity card."),
    "evidence.too_large": N_("The image is larger than 5 MB: send a smaller one."),
    "evidence.not_image": N_("The file is not a JPEG or PNG image, or it is damaged."),
    "evidence.too_many_pixels": N_("The image has more than 25 million pixels: send a smaller one."),
    "evidence.too_small": N_("The image is too small to read the card: send one at least 320 by 200 pixels."),
    "evidence.not_needed": N_("Your identity has already been checked."),
    "evidence.pending": N_("You have already sent an image; a registration officer will check it."),
    "evidence.damaged": N_("The stored image does not open or is not the one recorded. Report it."),
    "reason.required": N_("Enter the reason the resident will see."),
    "reason.too_long": N_("Enter a reason of 500 characters or fewer."),
    "proofing.not_pending": N_("This request has already been decided or withdrawn."),
    "proofing.not_active": N_("This account is not active and cannot be proofed."),
    "proofing.hkid_mismatch": N_(
        "The number on the card is not this account's number: do not proof this account."
    ),
    "counter_code.required": N_("Enter the counter code the resident reads out from their account page."),
    "counter_code.wrong": N_(
        "The counter code is not correct, has expired or was already used. Ask the resident for a new one."
    ),
    "registration.number_claimed": N_(
        "An account that was never checked claims this number. Confirm below to enrol the card's holder."
    ),
    "registration.holder_proofed": N_(
        "This number belongs to an account whose identity was already checked. It cannot be enrolled again here: refer the case to the registration office."
    ),
    "registration.title": N_("Registration"),
    "registration.not_found": N_("There is no such resident or request."),
    "registration.forbidden_title": N_("Not allowed"),
    "registration.forbidden": N_("This page is for registration officers only."),
    "notice.proofing_requested": N_("Your image has been sent. A registration officer will check it."),
    "notice.proofing_withdrawn": N_("Your request has been withdrawn."),
    "notice.proofed": N_("The resident's identity is now checked in person."),
    "notice.request_approved": N_("The request has been approved."),
    "notice.request_rejected": N_("The request has been refused; the resident has been told."),
    "notice.lookup_none": N_("No account holds this number. You can enrol the resident."),
    "notice.activated": N_("Your account is activated and you are signed in."),
    "event.account.enrolled_at_counter": N_("Account created at a registration counter"),
    "event.account.activated": N_("Account activated: password set"),
    "event.account.suspended": N_(
        "Account suspended: the identity card's holder enrolled at a registration counter"
    ),
    "event.identity.proofing_requested": N_("Identity check requested with an image of the identity card"),
    "event.identity.proofing_withdrawn": N_("Identity check request withdrawn"),
    "event.identity.proofing_rejected": N_("Identity check refused"),
    "event.identity.proofed": N_("Identity checked by a registration officer"),
    "event.registration.lookup": N_("Registration: looked up an identity card number"),
    "event.registration.viewed": N_("Registration: viewed a resident or a request"),
    "event.registration.evidence_viewed": N_("Registration: viewed the image of an identity card"),
    "event.registration.proofed": N_("Registration: checked a resident's identity"),
    "event.registration.rejected": N_("Registration: refused a remote request"),
    "event.registration.enrolled": N_("Registration: enrolled a resident"),
    "event.registration.suspended": N_("Registration: suspended an account that claimed a holder's number"),
    "notice.certificate_revoked": N_("The signing certificate has been revoked."),
    "notice.certificate_not_revoked": N_(
        "That certificate could not be revoked: it is not yours or is no longer valid."
    ),
    "event.signing.certificate_issued": N_("Signing certificate issued to your device"),
    "event.signing.certificate_revoked": N_("Signing certificate revoked at your request"),
    "event.signing.approved": N_("Document signed in the app"),
    "event.signing.declined": N_("Signature request declined in the app"),
    # --- i18n ---
    "event.account.guessed_at": N_("Many wrong passwords were tried for your account"),
    "event.app.approved": N_("Sign-in approved in the app"),
    "event.app.denied": N_("Sign-in refused in the app"),
    "event.consent.revoked": N_("Consent withdrawn"),
    "event.device.bound": N_("Phone app linked to your account"),
    "event.device.removed": N_("Phone app removed from your account"),
}


def message_for(code: str | None) -> str:
    """English text for ``code`` (translate it with the page's gettext); unknown codes get a
    generic sentence rather than leaking an internal name."""
    if not code:
        return ""
    return MESSAGES.get(code, N_("Something is not right with this field."))
