// Enrolment: choose username and password, then see the TOTP secret as a QR code and text.
"use strict";

(() => {
  const practice = location.pathname.split("/")[2];
  const code = new URLSearchParams(location.search).get("code") || "";
  const $ = Remit.el;
  $("portal-link").href = "/portal/" + practice;
  if (!code) Remit.setError("invite-error", "This link has no invite code. Ask the practice for a new invite.");

  $("enroll-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    for (const id of ["username-error", "password-error", "invite-error"]) Remit.setError(id, "");
    const username = $("username").value.trim(), password = $("password").value;
    if (username.length < 3) return Remit.setError("username-error", "Choose a username of at least 3 letters or digits.");
    if (password.length < 8 || password.length > 64) return Remit.setError("password-error", "Choose a password of 8 to 64 characters.");
    const r = await Remit.call("POST", "/api/v1/portal/" + practice + "/enroll", { body: { invite_code: code, username, password } });
    if (r.status === 201) {
      $("secret").textContent = r.body.totp_secret_base32.replace(/(.{4})/g, "$1 ").trim();
      if (r.body.totp_qr_png_base64) $("qr").src = "data:image/png;base64," + r.body.totp_qr_png_base64;
      Remit.show("enroll-step", false);
      Remit.show("totp-step", true);
      $("h-totp").focus();
      return;
    }
    const c = r.body && r.body.code;
    if (c === "weak_password") return Remit.setError("password-error", r.body.detail + ".");
    if (c === "username_taken") return Remit.setError("username-error", "That username is taken. Choose another.");
    if (c === "validation_failed") return Remit.setError("username-error", r.body.detail + ".");
    Remit.setError("invite-error", "This invite link is not valid any more. Ask the practice for a new invite.");
  });
  $("h-totp").tabIndex = -1;
})();
