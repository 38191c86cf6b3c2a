// The patient portal: the three sign-in steps, then the Payments tab.
// Card fields go to the processor's tokenizer; remit's API only ever sees the token.
"use strict";

(() => {
  const practice = location.pathname.split("/")[2];
  const api = "/api/v1/portal/" + practice;
  const $ = Remit.el;
  let identityToken = null, challengeToken = null, username = "";
  let session = sessionStorage.getItem("remit-session-" + practice);
  let view = null;

  const methodLabels = { phone: "Phone number", email: "Email address", initials: "Initials (first and last name)" };
  $("method").addEventListener("change", () => { $("identity-label").textContent = methodLabels[$("method").value]; });

  function step(name) {
    for (const s of ["step-identity", "step-password", "step-code"]) Remit.show(s, s === name);
    Remit.show("portal", name === "portal");
    Remit.show("signout", name === "portal");
    const first = { "step-identity": "username", "step-password": "password", "step-code": "code" }[name];
    if (first) $(first).focus();
  }

  $("identity-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    Remit.setError("username-error", "");
    Remit.setError("identity-error", "");
    username = $("username").value.trim();
    if (!username) return Remit.setError("username-error", "Enter your username.");
    if (!$("identity-value").value.trim()) return Remit.setError("identity-error", "Enter your " + methodLabels[$("method").value].toLowerCase() + ".");
    const r = await Remit.call("POST", api + "/identity-check", { body: { username, method: $("method").value, value: $("identity-value").value } });
    if (r.status === 200) { identityToken = r.body.identity_token; step("step-password"); return; }
    if (r.status === 429) return Remit.setError("identity-error", "Too many attempts. Please wait 15 minutes and try again.");
    Remit.setError("identity-error", "We could not confirm who you are. Check the details and try again.");
  });

  $("password-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    Remit.setError("password-error", "");
    const r = await Remit.call("POST", api + "/login", { body: { identity_token: identityToken, username, password: $("password").value } });
    $("password").value = "";
    if (r.status === 200) { challengeToken = r.body.challenge_token; step("step-code"); return; }
    if (r.status === 429) return Remit.setError("password-error", "This account is locked for 30 minutes after too many attempts.");
    if (r.body && r.body.code === "identity_not_verified") { step("step-identity"); return Remit.setError("identity-error", "Please confirm who you are again."); }
    Remit.setError("password-error", "Wrong username or password.");
  });

  $("code-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    Remit.setError("code-error", "");
    const code = $("code").value.trim();
    if (!/^\d{6}$/.test(code)) return Remit.setError("code-error", "Enter the 6 digits from your authenticator app.");
    const r = await Remit.call("POST", api + "/login/verify", { body: { challenge_token: challengeToken, code } });
    $("code").value = "";
    if (r.status === 200) {
      session = r.body.session_token;
      sessionStorage.setItem("remit-session-" + practice, session);
      return showPortal();
    }
    Remit.setError("code-error", "That code did not work. Wait for a new code and try again.");
  });

  $("signout").addEventListener("click", async () => {
    await Remit.call("POST", api + "/logout", { token: session });
    sessionStorage.removeItem("remit-session-" + practice);
    session = null;
    step("step-identity");
  });

  function relationship(m) { return m.relationship === "self" ? "You" : "Dependent"; }

  // Only the newest load's answer is shown (a slow early one never replaces a later one).
  const viewSeq = Remit.latest(), cardsSeq = Remit.latest();

  async function showPortal() {
    const t = viewSeq.begin();
    const r = await Remit.call("GET", api + "/me/balances", { token: session });
    if (!viewSeq.current(t)) return;
    if (r.status === 401) { sessionStorage.removeItem("remit-session-" + practice); session = null; return step("step-identity"); }
    view = r.body;
    step("portal");
    const members = $("members");
    members.replaceChildren();
    for (const m of view.members) {
      const tr = document.createElement("tr");
      tr.append(Remit.text("td", m.first_name + " " + (m.last_name || "")), Remit.text("td", relationship(m)),
                Remit.text("td", Remit.dollars(m.balance_cents), { class: "num" }));
      members.append(tr);
    }
    $("total").textContent = Remit.dollars(view.total_balance_cents);
    $("due").textContent = Remit.dollars(view.amount_due_cents);
    $("full-amount").textContent = Remit.dollars(view.amount_due_cents);
    const pending = $("pending");
    pending.replaceChildren();
    for (const p of view.pending_payments) {
      const tr = document.createElement("tr");
      tr.append(Remit.text("td", new Date(p.submitted_at).toLocaleString()),
                Remit.text("td", p.card_brand + " ending " + p.card_last4),
                Remit.text("td", Remit.dollars(p.amount_cents), { class: "num" }));
      pending.append(tr);
    }
    Remit.show("pending-block", view.pending_payments.length > 0);
    Remit.show("payments-off", !view.payments_enabled);
    Remit.show("pay-form", view.payments_enabled && view.amount_due_cents > 0);
    await showCards();
  }

  async function showCards() {
    const t = cardsSeq.begin();
    const r = await Remit.call("GET", api + "/me/cards", { token: session });
    if (!cardsSeq.current(t)) return;
    const cards = r.status === 200 ? r.body.items : [];
    const list = $("cards"), saved = $("saved-cards");
    list.replaceChildren();
    saved.replaceChildren();
    for (const c of cards) {
      const name = c.brand + " ending " + c.last4 + " (expires " + String(c.exp_month).padStart(2, "0") + "/" + c.exp_year + ")";
      const li = Remit.text("li", name + " ");
      const rm = Remit.text("button", "Remove", { class: "link", type: "button", "aria-label": "Remove card ending " + c.last4 });
      rm.addEventListener("click", async () => {
        rm.disabled = true;
        await Remit.call("DELETE", api + "/me/cards/" + encodeURIComponent(c.card_id), { token: session });
        showCards();
      });
      li.append(rm);
      list.append(li);
      const label = document.createElement("label");
      label.className = "choice";
      const radio = document.createElement("input");
      Object.assign(radio, { type: "radio", name: "card-choice", value: c.card_id });
      label.append(radio, " " + name);
      saved.append(label);
    }
    Remit.show("cards-block", cards.length > 0);
    const first = saved.querySelector("input");
    if (first) first.checked = true; else $("card-new").checked = true;
    updateNewCard();
  }

  function updateNewCard() { Remit.show("new-card", $("card-new").checked); }
  $("pay-form").addEventListener("change", updateNewCard);
  $("amount").addEventListener("input", () => { $("pay-other").checked = true; });

  // A payment whose answer never came (the network failed, or the server was unavailable) is
  // sent again with the same Idempotency-Key and body, so a second click can never pay twice.
  let unanswered = null;
  let paying = false;

  async function buildPayment() {
    let cents = view.amount_due_cents;
    if ($("pay-other").checked) {
      cents = Remit.parseDollars($("amount").value);
      if (cents === null || cents <= 0) return Remit.setError("amount-error", "Enter an amount in dollars and cents, for example 25.00.");
      if (cents > view.amount_due_cents) return Remit.setError("amount-error", "The most you can pay now is " + Remit.dollars(view.amount_due_cents) + ".");
    }
    const body = { amount_cents: cents };
    const choice = document.querySelector("input[name=card-choice]:checked");
    if (!choice || choice.value === "new") {
      const t = await Remit.call("POST", "/sandbox-gateway/v1/tokens", { body: {
        number: $("card-number").value.replace(/\s+/g, ""), exp_month: parseInt($("card-exp-month").value, 10) || 0,
        exp_year: parseInt($("card-exp-year").value, 10) || 0, cvc: $("card-cvc").value.trim() } });
      if (t.status !== 201) return Remit.setError("card-error", (t.body && t.body.detail ? t.body.detail : "Check the card details") + ".");
      body.card_token = t.body.card_token;
      body.save_card = $("save-card").checked;
    } else {
      body.card_id = choice.value;
    }
    return { key: Remit.newKey(), body };
  }

  function payResult(r) {
    const note = document.createElement("div");
    note.className = "notice bad";
    if (r === null) {
      note.textContent = "We did not hear back about your payment. Press Pay again to check on it: it will not be charged twice.";
    } else if (r.status === 201) {
      note.className = "notice ok";
      note.textContent = "Thank you. Your payment of " + Remit.dollars(r.body.amount_cents) + " with " + r.body.card.brand + " ending " + r.body.card.last4 + " was received.";
    } else if (r.status === 402) {
      note.textContent = "Your card was declined (" + String(r.body.decline_reason).replace(/_/g, " ") + "). No payment was made.";
    } else {
      note.textContent = "The payment could not be made: " + (r.body && r.body.detail ? r.body.detail : "please try again") + ".";
    }
    return note;
  }

  async function pay() {
    Remit.setError("amount-error", "");
    Remit.setError("card-error", "");
    $("result").replaceChildren();
    const attempt = unanswered || await buildPayment();
    if (!attempt) return;
    let r = null;
    try {
      r = await Remit.call("POST", api + "/me/payments", { token: session, body: attempt.body, headers: { "Idempotency-Key": attempt.key } });
    } catch (e) {
      r = null;
    }
    unanswered = (r === null || r.status >= 500) ? attempt : null;
    if (!unanswered) {
      for (const id of ["card-number", "card-exp-month", "card-exp-year", "card-cvc", "amount"]) $(id).value = "";
      $("save-card").checked = false;
    }
    const note = payResult(unanswered ? null : r);
    await showPortal();
    $("result").replaceChildren(note);
  }

  $("pay-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (paying) return;
    paying = true;
    $("pay-button").disabled = true;
    try {
      await pay();
    } finally {
      paying = false;
      $("pay-button").disabled = false;
    }
  });

  document.title = "Patient Portal";
  if (session) showPortal(); else step("step-identity");
})();
