"use strict";
// The account page: signs in with the refresh cookie (POST /refresh/) and keeps the
// access token in memory only; every action is a call to this site's JSON API.
let access = null;
const $ = (id) => document.getElementById(id);
const say = (text) => { $("status").textContent = text || ""; };

async function call(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (access) headers["Authorization"] = "Bearer " + access;
  const response = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
  return { ok: response.ok, status: response.status, data };
}

// A call that signs in again once (through the cookie) when the access token expired,
// or retries at once when another call already did.
async function authed(method, path, body) {
  const used = access;
  let result = await call(method, path, body);
  if (result.status === 401 && (access !== used || await refresh())) result = await call(method, path, body);
  if (result.status === 401) signedOut("Your session has ended. Sign in again.");
  return result;
}

function problem(result, fallback) {
  const data = result.data || {};
  if (typeof data.detail === "string") return data.detail;
  const messages = [].concat(...Object.values(data).filter(Array.isArray));
  return messages.length ? messages.join(" ") : fallback;
}

// One rotation at a time, in this tab and across the tabs of this site (Web Locks): two
// rotations of the same cookie at once would be a replay, which ends the session.
let refreshing = null;
function refresh() {
  const rotate = async () => {
    const result = await call("POST", "/refresh/");
    access = result.ok ? result.data.access : null;
    return result.ok;
  };
  if (!refreshing) {
    const run = navigator.locks ? navigator.locks.request("jwt-allauth-refresh", rotate) : rotate();
    refreshing = run.finally(() => { refreshing = null; });
  }
  return refreshing;
}

function signedOut(message) {
  access = null;
  $("signed-in").hidden = true;
  $("signed-out").hidden = false;
  say(message);
}

const when = (iso) => iso ? iso.slice(0, 16).replace("T", " ") + " UTC" : "unknown";
const named = (name, version) => name ? (version ? name + " " + version : name) : "unknown";
function kind(s) {
  const model = [s.device_brand, s.device_model].filter(Boolean).join(" ");
  const type = s.is_bot ? "bot" : s.is_tablet ? "tablet" : s.is_mobile ? "phone" : s.is_pc ? "computer" : "";
  return [model || (s.device && s.device !== "Other" ? s.device : ""), type].filter(Boolean).join(", ") || "unknown";
}

function render(sessions) {
  const list = $("sessions");
  list.replaceChildren();
  for (const s of sessions) {
    const row = $("session-row").content.firstElementChild.cloneNode(true);
    const title = named(s.browser, null) + " on " + named(s.os, null);
    row.querySelector(".device").textContent = title;
    row.querySelector(".browser").textContent = named(s.browser, s.browser_version);
    row.querySelector(".os").textContent = named(s.os, s.os_version);
    row.querySelector(".kind").textContent = kind(s);
    row.querySelector(".ip").textContent = s.ip || "unknown";
    row.querySelector(".created").textContent = when(s.created);
    row.querySelector(".last-used").textContent = when(s.last_used);
    row.dataset.session = s.session;
    const end = row.querySelector(".end");
    if (s.current) {
      row.querySelector(".this-device").hidden = false;
      row.classList.add("current");
      end.remove();
    } else {
      end.setAttribute("aria-label", "Sign out " + title + ", last used " + when(s.last_used));
      end.addEventListener("click", () => endSession(s.session, title));
    }
    list.append(row);
  }
  $("revoke-others").disabled = sessions.length < 2;
}

async function load(message) {
  const [user, sessions] = await Promise.all([authed("GET", "/user/"), authed("GET", "/sessions/")]);
  if (!user.ok || !sessions.ok) {
    if (access) say(problem(sessions.ok ? user : sessions, "The account could not be loaded."));
    return;
  }
  $("who").textContent = user.data.email;
  render(sessions.data);
  $("signed-out").hidden = true;
  $("signed-in").hidden = false;
  if (message !== undefined) say(message);
}

async function endSession(session, title) {
  const result = await authed("DELETE", "/sessions/" + encodeURIComponent(session) + "/");
  if (result.ok || result.status === 404) await load("Signed out " + title + ".");
  else say(problem(result, "That device could not be signed out."));
}

function form(id, handler) {
  $(id).addEventListener("submit", async (event) => {
    event.preventDefault();
    const target = event.target;
    const button = target.querySelector("button[type=submit]");
    button.disabled = true;
    try { await handler(target); } finally { button.disabled = false; }
  });
}

form("sign-in-form", async (f) => {
  const result = await call("POST", "/login/", { email: f.email.value, password: f.password.value });
  if (!result.ok) return say(problem(result, "You could not be signed in."));
  access = result.data.access;
  f.reset();
  await load("You are signed in.");
});

form("sign-up-form", async (f) => {
  const result = await call("POST", "/registration/", {
    email: f.email.value, password1: f.password1.value, password2: f.password2.value,
  });
  if (!result.ok) return say(problem(result, "The account could not be created."));
  f.reset();
  if (result.data.access) { access = result.data.access; await load("Your account is ready."); }
  else say(result.data.detail + " Follow the link in it, then sign in.");
});

form("reset-form", async (f) => {
  const result = await call("POST", "/password/reset/", { email: f.email.value });
  say(result.ok ? result.data.detail : problem(result, "The reset link could not be sent."));
  if (result.ok) f.reset();
});

form("password-form", async (f) => {
  const result = await authed("POST", "/password/change/", {
    old_password: f.old_password.value, new_password1: f.new_password1.value, new_password2: f.new_password2.value,
  });
  if (!result.ok) return say(problem(result, "The password could not be changed."));
  access = result.data.access;
  f.reset();
  await load("Your password was changed. Every other device was signed out.");
});

$("revoke-others").addEventListener("click", async () => {
  const result = await authed("POST", "/sessions/revoke-others/");
  if (!result.ok) return say(problem(result, "The other devices could not be signed out."));
  const n = result.data.revoked;
  await load("Signed out of " + n + (n === 1 ? " other device." : " other devices."));
});

$("logout-all").addEventListener("click", async () => {
  const result = await authed("POST", "/logout-all/");
  if (!result.ok) return say(problem(result, "You could not be signed out."));
  signedOut("You are signed out everywhere.");
});

$("sign-out").addEventListener("click", async () => {
  const result = await authed("POST", "/logout/", {});
  if (!result.ok) return say(problem(result, "You could not be signed out."));
  signedOut("You are signed out.");
});

refresh().then((ok) => ok ? load() : signedOut());
