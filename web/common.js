// Shared helpers of the pages: calls to remit's API, money as dollars and cents.
"use strict";

const Remit = {
  // Calls the API; resolves to {status, body}. Never throws for HTTP errors.
  async call(method, path, { token, body, headers } = {}) {
    const h = Object.assign({}, headers || {});
    if (token) h["Authorization"] = "Bearer " + token;
    if (body !== undefined) h["Content-Type"] = "application/json";
    const res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    const text = await res.text();
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text }; }
    return { status: res.status, body: data };
  },
  // 12345 -> "$123.45"
  dollars(cents) {
    const neg = cents < 0;
    const c = Math.abs(cents);
    const whole = Math.floor(c / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (neg ? "-$" : "$") + whole + "." + String(c % 100).padStart(2, "0");
  },
  // "123.45" or "$1,234.5" -> cents as an integer, or null. No floating point.
  parseDollars(text) {
    const t = String(text).trim().replace(/^\$/, "").replace(/,/g, "");
    const m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(t);
    if (!m) return null;
    return parseInt(m[1], 10) * 100 + parseInt((m[2] || "0").padEnd(2, "0"), 10);
  },
  newKey() {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  },
  // Orders the answers of one view's loads and saves: begin() before each call, and only the
  // newest call's answer may be shown (current(t)), so a slow early answer never puts back what
  // a later load or save replaced. The screen shows what the server last said, never older.
  latest() {
    let n = 0;
    return { begin() { return ++n; }, current(t) { return t === n; } };
  },
  el(id) { return document.getElementById(id); },
  show(id, on = true) { Remit.el(id).hidden = !on; },
  setError(id, text) { const e = Remit.el(id); if (e) e.textContent = text || ""; },
  text(tag, value, attrs = {}) {
    const e = document.createElement(tag);
    e.textContent = value;
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  },
};
