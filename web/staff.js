// The practice dashboard: token sign-in, inbox, transactions with post-to-ledger, the two
// settings toggles, and the portal link with its QR code.
"use strict";

(() => {
  const $ = Remit.el;
  let token = sessionStorage.getItem("remit-staff-token");
  let practice = null, role = null;
  const base = () => "/api/v1/practices/" + practice;
  const tabs = ["inbox", "transactions", "settings", "resources"];

  function select(name) {
    for (const t of tabs) {
      $("tab-" + t).setAttribute("aria-selected", String(t === name));
      Remit.show(t, t === name);
    }
    ({ inbox: loadInbox, transactions: loadTransactions, settings: loadSettings, resources: loadResources })[name]();
  }
  for (const t of tabs) $("tab-" + t).addEventListener("click", () => select(t));

  async function signIn(candidate) {
    const r = await Remit.call("GET", "/api/v1/whoami", { token: candidate });
    if (r.status !== 200 || r.body.kind !== "staff") {
      Remit.setError("token-error", "That token is not a valid staff token.");
      return false;
    }
    token = candidate;
    practice = r.body.practice_id;
    role = r.body.role;
    sessionStorage.setItem("remit-staff-token", token);
    const s = await Remit.call("GET", base() + "/settings", { token });
    $("title").textContent = (s.status === 200 ? s.body.name : practice) + " dashboard";
    Remit.show("signin", false);
    Remit.show("dashboard", true);
    Remit.show("signout", true);
    select("inbox");
    return true;
  }

  $("signin-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    Remit.setError("token-error", "");
    const t = $("token").value.trim();
    if (!t) return Remit.setError("token-error", "Paste your staff token.");
    if (await signIn(t)) $("token").value = "";
  });
  $("signout").addEventListener("click", () => {
    sessionStorage.removeItem("remit-staff-token");
    location.reload();
  });

  const inboxSeq = Remit.latest(), txSeq = Remit.latest(), settingsSeq = Remit.latest(), resourcesSeq = Remit.latest();

  async function loadInbox() {
    const t = inboxSeq.begin();
    const r = await Remit.call("GET", base() + "/inbox", { token });
    if (!inboxSeq.current(t)) return;
    const body = $("inbox-items");
    body.replaceChildren();
    const items = r.status === 200 ? r.body.items : [];
    for (const n of items) {
      const tr = document.createElement("tr");
      if (!n.read) tr.className = "unread";
      tr.append(Remit.text("td", (n.read ? "" : "New: ") + "Payment of " + Remit.dollars(n.amount_cents) + " received from " + n.patient_name),
                Remit.text("td", new Date(n.created_at).toLocaleString()));
      const td = document.createElement("td");
      if (!n.read) {
        const b = Remit.text("button", "Mark as read", { class: "link", type: "button", "aria-label": "Mark as read: payment from " + n.patient_name });
        b.addEventListener("click", async () => {
          b.disabled = true;
          await Remit.call("POST", base() + "/inbox/" + encodeURIComponent(n.notification_id) + "/read", { token });
          loadInbox();
        });
        td.append(b);
      }
      tr.append(td);
      body.append(tr);
    }
    Remit.show("inbox-empty", items.length === 0);
  }

  async function loadTransactions() {
    const t = txSeq.begin();
    const r = await Remit.call("GET", base() + "/transactions?limit=100", { token });
    if (!txSeq.current(t)) return;
    const body = $("tx-items");
    body.replaceChildren();
    const items = r.status === 200 ? r.body.items : [];
    for (const tx of items) {
      const tr = document.createElement("tr");
      tr.append(Remit.text("td", new Date(tx.submitted_at).toLocaleString()), Remit.text("td", tx.patient_name),
                Remit.text("td", Remit.dollars(tx.amount_cents), { class: "num" }),
                Remit.text("td", tx.card_brand + " " + tx.card_last4), Remit.text("td", tx.status));
      const ledger = document.createElement("td");
      ledger.textContent = tx.ledger_status || "";
      if (tx.ledger_status === "pending" && role !== "auditor") {
        const b = Remit.text("button", "Post to ledger", { type: "button", "aria-label": "Post to ledger: " + Remit.dollars(tx.amount_cents) + " from " + tx.patient_name });
        b.addEventListener("click", async () => {
          b.disabled = true;
          await Remit.call("POST", base() + "/payments/" + encodeURIComponent(tx.payment_id) + "/post-to-ledger", { token });
          loadTransactions();
        });
        ledger.append(" ", b);
      }
      tr.append(ledger);
      body.append(tr);
    }
    Remit.show("tx-empty", items.length === 0);
  }

  // The toggles are disabled until the server's settings are on screen, and while a save is
  // in flight; whatever answer comes last in the order of the calls is what the screen shows.
  function setSettingsEnabled(on) {
    $("set-payments").disabled = !on;
    $("set-autopost").disabled = !on;
  }
  function showSettings(s) {
    $("set-payments").checked = s.portal_payments_enabled;
    $("set-autopost").checked = s.auto_post_to_ledger;
    setSettingsEnabled(role === "admin");
  }
  async function loadSettings(message) {
    const t = settingsSeq.begin();
    setSettingsEnabled(false);
    $("settings-status").textContent = "Loading…";
    const r = await Remit.call("GET", base() + "/settings", { token });
    if (!settingsSeq.current(t)) return;
    if (r.status !== 200) { $("settings-status").textContent = "Only staff can see settings."; return; }
    showSettings(r.body);
    $("settings-status").textContent = message || (role === "admin" ? "" : "Only an admin can change settings.");
  }
  async function saveSettings() {
    const t = settingsSeq.begin();  // a load still in flight is stale from here on
    const wanted = { portal_payments_enabled: $("set-payments").checked, auto_post_to_ledger: $("set-autopost").checked };
    setSettingsEnabled(false);
    $("settings-status").textContent = "Saving…";
    const r = await Remit.call("PUT", base() + "/settings", { token, body: wanted });
    if (!settingsSeq.current(t)) return;
    if (r.status === 200) {
      showSettings(r.body);
      $("settings-status").textContent = "Saved.";
      return;
    }
    // Not saved: show what the server holds, not what was clicked.
    await loadSettings("Not saved: " + ((r.body && r.body.detail) || "please try again") + ".");
  }
  $("set-payments").addEventListener("change", saveSettings);
  $("set-autopost").addEventListener("change", saveSettings);

  async function loadResources() {
    const t = resourcesSeq.begin();
    const r = await Remit.call("GET", base() + "/resources/portal-link", { token });
    if (!resourcesSeq.current(t)) return;
    $("portal-link").value = r.status === 200 ? r.body.url : "";
  }
  $("copy-link").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText($("portal-link").value);
      $("resources-status").textContent = "Link copied.";
    } catch (e) {
      $("portal-link").select();
      $("resources-status").textContent = "Select the link and copy it.";
    }
  });
  $("download-qr").addEventListener("click", async () => {
    const res = await fetch(base() + "/resources/portal-link.png", { headers: { Authorization: "Bearer " + token } });
    if (!res.ok) { $("resources-status").textContent = "The QR code could not be made."; return; }
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = practice + "-portal-qr.png";
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    $("resources-status").textContent = "QR code downloaded.";
  });

  if (token) signIn(token).then((ok) => { if (!ok) { sessionStorage.removeItem("remit-staff-token"); } });
})();
