// remit's pages in a real browser (Debian's chromium driven by playwright-core): enrolment,
// the three sign-in steps, paying in part with a new card saved and with the saved card, a
// decline, the staff inbox and transactions, posting to the ledger, the QR code decoded back
// to the portal link, and payments turned off. Starts its own `remit serve` on a free port
// with a fresh data directory. Screenshots of each main screen go to --out.
//
// node journey.mjs --remit PATH/TO/remit --out DIR [--docs DIR]
import { spawn, execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, mkdirSync, rmSync, copyFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const out = args.out || "test-output";
mkdirSync(out, { recursive: true });

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

function totp(base32, atMs = Date.now()) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of base32.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMs / 1000 / 30)));
  const h = createHmac("sha1", key).update(counter).digest();
  const o = h[h.length - 1] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, "0");
}

async function startRemit() {
  const port = await freePort();
  const data = mkdtempSync(join(tmpdir(), "remit-browser-"));
  const proc = spawn(args.remit, ["serve", "--data", data, "--listen", `127.0.0.1:${port}`, "--demo"],
                     { stdio: ["ignore", "pipe", "inherit"] });
  let text = "";
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("remit serve did not start: " + text)), 30000);
    proc.stdout.on("data", (d) => {
      text += d;
      if (text.includes("remit is ready")) { clearTimeout(timer); resolve(); }
    });
    proc.on("exit", (code) => reject(new Error("remit serve exited " + code + ": " + text)));
  });
  const field = (re) => { const m = re.exec(text); assert.ok(m, "missing in output: " + re); return m[1]; };
  return {
    proc, data, base: `http://127.0.0.1:${port}`,
    admin: field(/staff admin token: (\S+)/),
    username: field(/username (\S+),/),
    password: field(/password (\S+)\n/),
    secret: field(/authenticator secret (\S+)/),
    invite: field(/enrolment link for Sam Doe \(a dependent\): (\S+)/),
  };
}

const results = { passed: 0, failed: 0 };
async function check(name, fn) {
  try {
    await fn();
    results.passed++;
    console.log("ok  - " + name);
  } catch (e) {
    results.failed++;
    console.log("FAIL - " + name + "\n" + (e.stack || e));
    throw e;
  }
}

const remit = await startRemit();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const shots = [];
async function shot(page, name) {
  const path = join(out, name + ".png");
  await page.screenshot({ path, fullPage: true });
  shots.push(path);
}

// Every control has an accessible name (a label, aria-label or text).
async function expectNamedControls(page) {
  const unnamed = await page.evaluate(() => {
    const bad = [];
    for (const e of document.querySelectorAll("input, select, button, textarea")) {
      if (e.offsetParent === null && e.type !== "radio" && e.type !== "checkbox") continue;
      const label = (e.labels && e.labels.length > 0) || e.getAttribute("aria-label") ||
                    (e.tagName === "BUTTON" && e.textContent.trim());
      if (!label) bad.push(e.outerHTML.slice(0, 80));
    }
    return bad;
  });
  assert.deepEqual(unnamed, []);
}

let failed = false;
try {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, acceptDownloads: true });
  const page = await phone.newPage();

  await check("enrolment shows the authenticator QR code and key", async () => {
    await page.goto(remit.invite);
    await expectNamedControls(page);
    await page.getByLabel("Username").fill("sam.doe");
    await page.getByLabel("Password (8 to 64 characters)").fill("short");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByText("Choose a password of 8 to 64 characters.").waitFor();
    await page.getByLabel("Password (8 to 64 characters)").fill("Sealants-and-Floss-26");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("heading", { name: "Set up your authenticator app" }).waitFor();
    const width = await page.locator("img.qr").evaluate((img) => img.naturalWidth);
    assert.ok(width >= 200, "QR image width " + width);
    assert.match(await page.locator("#secret").textContent(), /^[A-Z2-7 ]{32,}$/);
    await shot(page, "enroll");
  });

  await check("sign in through identity, password and code", async () => {
    await page.goto(remit.base + "/portal/demo-dental");
    await shot(page, "portal-sign-in");
    await expectNamedControls(page);
    await page.getByLabel("Username").fill(remit.username);
    await page.getByLabel("Confirm with").selectOption("phone");
    await page.getByLabel("Phone number").fill("555-010-9999");
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByText("We could not confirm who you are").waitFor();
    await page.getByLabel("Phone number").fill("(555) 010-2030");
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByLabel("Password", { exact: true }).fill(remit.password);
    await page.keyboard.press("Enter");
    await page.getByLabel("6-digit code", { exact: true }).fill(totp(remit.secret));
    await page.keyboard.press("Enter");
    await page.getByRole("tab", { name: "Payments" }).waitFor();
    assert.equal(await page.locator("#total").textContent(), "$460.00");
    assert.equal(await page.locator("#due").textContent(), "$460.00");
    await expectNamedControls(page);
    await shot(page, "portal-payments");
  });

  await check("pay part of the balance with a new card and save it", async () => {
    await page.getByLabel("Amount in dollars").fill("50.00");
    await page.getByLabel("Use a new card").check();
    await page.getByLabel("Card number").fill("4242 4242 4242 4242");
    await page.getByLabel("Expiry month").fill("12");
    await page.getByLabel("Expiry year").fill("2030");
    await page.getByLabel("Security code").fill("123");
    await page.getByLabel("Save card for future payments").check();
    await page.getByRole("button", { name: "Make a Payment" }).click();
    await page.getByText("Thank you. Your payment of $50.00").waitFor();
    assert.equal(await page.locator("#due").textContent(), "$410.00");
    assert.equal(await page.locator("#total").textContent(), "$460.00");
    await page.locator("#pending").getByText("$50.00").waitFor();
    await page.locator("#cards").getByText("visa ending 4242").waitFor();
    await shot(page, "portal-paid");
  });

  await check("pay with the saved card", async () => {
    await page.getByLabel("Amount in dollars").fill("25");
    await page.getByLabel(/visa ending 4242/).check();
    await page.getByRole("button", { name: "Make a Payment" }).click();
    await page.getByText("Thank you. Your payment of $25.00").waitFor();
    assert.equal(await page.locator("#due").textContent(), "$385.00");
    assert.equal(await page.locator("#pending tr").count(), 2);
  });

  await check("a declined card shows the decline", async () => {
    await page.getByLabel("Amount in dollars").fill("10.00");
    await page.getByLabel("Use a new card").check();
    await page.getByLabel("Card number").fill("4000000000000002");
    await page.getByLabel("Expiry month").fill("11");
    await page.getByLabel("Expiry year").fill("2031");
    await page.getByLabel("Security code").fill("456");
    await page.getByRole("button", { name: "Make a Payment" }).click();
    await page.getByText("Your card was declined (generic decline)").waitFor();
    assert.equal(await page.locator("#due").textContent(), "$385.00");
    await shot(page, "portal-declined");
  });

  const desk = await browser.newContext({ viewport: { width: 1100, height: 800 }, acceptDownloads: true });
  const staff = await desk.newPage();

  await check("staff see the payment in the inbox", async () => {
    await staff.goto(remit.base + "/staff");
    await expectNamedControls(staff);
    await staff.getByLabel("Staff token").fill(remit.admin);
    await staff.getByRole("button", { name: "Sign in" }).click();
    await staff.getByText("New: Payment of $25.00 received from Jane Doe").waitFor();
    await staff.getByText("New: Payment of $50.00 received from Jane Doe").waitFor();
    await shot(staff, "staff-inbox");
    await staff.getByRole("button", { name: "Mark as read: payment from Jane Doe" }).first().click();
    await staff.waitForFunction(() => document.querySelectorAll("tr.unread").length === 1);
    assert.equal(await staff.locator("#inbox-items tr").count(), 2);
  });

  await check("staff post a payment to the ledger and the balance changes", async () => {
    await staff.getByRole("tab", { name: "Payments > Transactions" }).click();
    await staff.getByText("declined").waitFor();
    assert.equal(await staff.locator("#tx-items tr").count(), 3);
    await shot(staff, "staff-transactions");
    await staff.getByRole("button", { name: "Post to ledger: $50.00 from Jane Doe" }).click();
    await staff.getByRole("button", { name: "Post to ledger: $50.00 from Jane Doe" }).waitFor({ state: "detached" });
    await staff.locator("#tx-items").getByText("posted").waitFor();
    await page.reload();
    await page.getByRole("tab", { name: "Payments" }).waitFor();
    await page.waitForFunction(() => document.querySelector("#total").textContent === "$410.00");
    assert.equal(await page.locator("#due").textContent(), "$385.00");
    assert.equal(await page.locator("#pending tr").count(), 1);
  });

  await check("the QR code downloads and decodes to the portal link", async () => {
    await staff.getByRole("tab", { name: "Settings > Services > Resources" }).click();
    const link = remit.base + "/portal/demo-dental";
    await staff.waitForFunction((l) => document.querySelector("#portal-link").value === l, link);
    await shot(staff, "staff-resources");
    const [download] = await Promise.all([
      staff.waitForEvent("download"),
      staff.getByRole("button", { name: "Download the Patient Portal QR code as a PNG file" }).click(),
    ]);
    assert.equal(download.suggestedFilename(), "demo-dental-portal-qr.png");
    const png = join(out, "downloaded-portal-qr.png");
    await download.saveAs(png);
    const decoded = execFileSync("zbarimg", ["-q", "--raw", png], { stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
    assert.equal(decoded, link);
  });

  await check("keyboard alone: sign in, and every payment control is reachable with Tab", async () => {
    const kb = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const k = await kb.newPage();
    await k.goto(remit.base + "/portal/demo-dental");
    // The username field has focus; the rest is typed, tabbed and entered.
    await k.keyboard.type(remit.username);
    await k.keyboard.press("Tab");   // Confirm with (phone is chosen)
    await k.keyboard.press("Tab");   // Phone number
    await k.keyboard.type("5550102030");
    await k.keyboard.press("Enter");
    await k.getByLabel("Password", { exact: true }).waitFor();
    await k.keyboard.type(remit.password);
    await k.keyboard.press("Enter");
    await k.getByLabel("6-digit code", { exact: true }).waitFor();
    await k.keyboard.type(totp(remit.secret, Date.now() + 30000));  // the next step: codes are used once
    await k.keyboard.press("Enter");
    await k.getByRole("tab", { name: "Payments" }).waitFor();
    const reached = new Set();
    for (let i = 0; i < 40; i++) {
      await k.keyboard.press("Tab");
      reached.add(await k.evaluate(() => document.activeElement && (document.activeElement.id || document.activeElement.textContent.trim())));
    }
    for (const id of ["pay-full", "amount", "pay-button", "signout"]) {
      assert.ok(reached.has(id), id + " is not reachable with Tab: " + [...reached].join(", "));
    }
    await kb.close();
  });

  const settingsUrl = remit.base + "/api/v1/practices/demo-dental/settings";
  const serverSettings = async () =>
    (await fetch(settingsUrl, { headers: { Authorization: "Bearer " + remit.admin } })).json();
  const putSettings = async (body) => {
    const r = await fetch(settingsUrl, { method: "PUT", headers: { Authorization: "Bearer " + remit.admin, "Content-Type": "application/json" }, body: JSON.stringify(body) });
    assert.equal(r.status, 200);
  };

  await check("settings: a slow early answer never replaces a newer one, and the toggles wait for the server", async () => {
    // The first load's answer is taken from the server now and handed to the page 1.5 s later,
    // after a second load has shown a newer state.
    let first = true, staleDone;
    const staleDelivered = new Promise((r) => { staleDone = r; });
    await staff.route(settingsUrl, async (route) => {
      if (route.request().method() !== "GET" || !first) return route.continue();
      first = false;
      const res = await route.fetch();
      await new Promise((r) => setTimeout(r, 1500));
      await route.fulfill({ response: res });
      staleDone();
    });
    await staff.getByRole("tab", { name: "Settings", exact: true }).click();
    assert.equal(await staff.locator("#set-autopost").isDisabled(), true, "the toggle is enabled before the settings are loaded");
    await putSettings({ auto_post_to_ledger: true });
    await staff.getByRole("tab", { name: "Inbox" }).click();
    await staff.getByRole("tab", { name: "Settings", exact: true }).click();
    await staff.waitForFunction(() => { const b = document.querySelector("#set-autopost"); return b.checked && !b.disabled; });
    await staleDelivered;
    await staff.waitForTimeout(300);  // the page has read the stale answer by now
    assert.equal(await staff.locator("#set-autopost").isChecked(), true, "a stale answer replaced the newer settings");
    await staff.unroute(settingsUrl);
    await putSettings({ auto_post_to_ledger: false });
  });

  await check("payments turned off: the portal says so and offers no form", async () => {
    await staff.getByRole("tab", { name: "Inbox" }).click();
    await staff.getByRole("tab", { name: "Settings", exact: true }).click();
    // Act only on what the server holds: the toggle is enabled once its value is loaded.
    await staff.waitForFunction(() => { const b = document.querySelector("#set-payments"); return b.checked && !b.disabled; });
    await staff.getByLabel("Patient Portal Payments").uncheck();
    await staff.getByText("Saved.").waitFor();
    await staff.waitForFunction(() => { const b = document.querySelector("#set-payments"); return !b.checked && !b.disabled; });
    assert.equal((await serverSettings()).portal_payments_enabled, false);
    await shot(staff, "staff-settings");
    await page.reload();
    await page.getByText("Online payments are turned off for this practice").waitFor();
    assert.equal(await page.locator("#pay-form").isVisible(), false);
    await shot(page, "portal-payments-off");
  });

  if (args.docs) {
    mkdirSync(args.docs, { recursive: true });
    for (const p of shots) copyFileSync(p, join(args.docs, p.split("/").pop()));
  }
} catch (e) {
  failed = true;
} finally {
  await browser.close();
  remit.proc.kill("SIGTERM");
  await new Promise((r) => remit.proc.on("exit", r));
  rmSync(remit.data, { recursive: true, force: true });
}
console.log(`${results.passed} passed, ${results.failed} failed`);
process.exit(failed || results.failed > 0 ? 1 : 0);
