"use strict";
// The bank UI: one websocket to the GraphQL endpoint (graphql-transport-ws) carries queries and subscriptions,
// so the page needs no CORS and loads nothing but its own three files.

const HOUSE_IBAN = "NL66OPEN0000000000";
const DEPOSITS = [1000, 2000, 5000, 10000, 20000, 50000];
const config = window.KGB_CONFIG || { graphql: "ws://127.0.0.1:8888/graphql", results: null, reports: "/reports/" };
window.kgbErrors = [];
window.addEventListener("error", e => window.kgbErrors.push(String(e.message)));

// ---- GraphQL over one websocket, reconnecting; operations survive a reconnect by being sent again.
const gql = {
  socket: null, ready: false, nextId: 1, ops: new Map(),
  connect() {
    const socket = new WebSocket(config.graphql, "graphql-transport-ws");
    this.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ type: "connection_init" }));
    socket.onmessage = event => {
      const m = JSON.parse(event.data);
      if (m.type === "connection_ack") {
        this.ready = true;
        setConnection("connected");
        for (const [id, op] of this.ops) this.send(id, op);
      } else if (m.type === "ping") {
        socket.send(JSON.stringify({ type: "pong" }));
      } else if (m.type === "next") {
        const op = this.ops.get(m.id);
        if (op) op.next(m.payload);
      } else if (m.type === "error" || m.type === "complete") {
        const op = this.ops.get(m.id);
        if (op) { this.ops.delete(m.id); op.done(m.type === "error" ? { errors: m.payload } : null); }
      }
    };
    socket.onclose = () => {
      this.ready = false;
      setConnection("reconnecting…");
      setTimeout(() => this.connect(), 1000);
    };
  },
  send(id, op) {
    if (this.ready) this.socket.send(JSON.stringify({ id, type: "subscribe", payload: { query: op.query, variables: op.variables } }));
  },
  // Calls `next` with every payload until stopped; returns the stop function.
  subscribe(query, variables, next, done = () => {}) {
    const id = String(this.nextId++);
    const op = { query, variables, next, done };
    this.ops.set(id, op);
    this.send(id, op);
    return () => {
      if (this.ops.delete(id) && this.ready) this.socket.send(JSON.stringify({ id, type: "complete" }));
    };
  },
  // The first payload's data, or an Error carrying the GraphQL errors.
  once(query, variables) {
    return new Promise((resolve, reject) => {
      let stop = null;
      stop = this.subscribe(query, variables, payload => {
        if (stop) stop();
        if (payload.errors && payload.errors.length) reject(new Error(payload.errors.map(e => e.message).join("; ")));
        else resolve(payload.data);
      }, failure => { if (failure) reject(new Error(JSON.stringify(failure.errors))); });
    });
  },
};

function setConnection(text) { document.getElementById("connection").textContent = text; }

const TX_FIELDS = "id iban new_balance changed_by from_to descr direction";
const Q = {
  account: "subscription($u: String!, $p: String!) { get_account(username: $u, password: $p) { iban token reason } }",
  transfer: "subscription($id: String!, $u: String!, $t: String!, $a: Int!, $f: String!, $to: String!, $d: String!) { money_transfer(uuid: $id, username: $u, token: $t, amount: $a, from: $f, to: $to, descr: $d) { uuid success reason } }",
  stream: `subscription($iban: String) { stream_transactions(iban: $iban) { ${TX_FIELDS} } }`,
  byIban: `query($iban: String!, $n: Int!) { transactions_by_iban(iban: $iban, max_items: $n) { ${TX_FIELDS} } }`,
  last: `query { all_last_transactions { ${TX_FIELDS} } }`,
};

// ---- Money: euros typed by a person to cents, exactly (no floating point: 0.29 is 29 cents).
function toCents(text) {
  const m = /^\s*(\d{1,7})(?:[.,](\d{1,2}))?\s*$/.exec(text);
  if (!m) return null;
  const cents = Number(m[1]) * 100 + Number((m[2] || "0").padEnd(2, "0"));
  return cents >= 1 && cents <= 100000000 ? cents : null;
}
function euros(cents) {
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(cents);
  const whole = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ".");
  return `€${sign}${whole},${String(abs % 100).padStart(2, "0")}`;
}
function uuid() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map(x => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function transactionItem(t) {
  const li = document.createElement("li");
  const credit = t.direction === "CREDIT";
  li.className = credit ? "credit" : "debit";
  li.dataset.id = t.id;
  li.dataset.descr = t.descr;
  li.dataset.changedBy = t.changed_by;
  li.dataset.direction = t.direction;
  const amount = document.createElement("span");
  amount.className = "amount";
  amount.textContent = `${credit ? "+" : "−"}${t.changed_by}`;
  li.append(amount, ` ${credit ? "from" : "to"} ${t.from_to} · ${t.descr} · balance ${t.new_balance}`);
  return li;
}

// ---- Pages.
const pages = {};
let leave = () => {};

pages.home = () => {
  document.getElementById("house-iban").textContent = HOUSE_IBAN;
  const feed = document.getElementById("home-feed");
  return gql.subscribe(Q.stream, { iban: HOUSE_IBAN }, p => p.data && feed.prepend(transactionItem(p.data.stream_transactions)));
};

const session = { user: null, iban: null, token: null, stop: () => {} };

function status(text, error = false) {
  const s = document.getElementById("status");
  s.textContent = text;
  s.className = error ? "error" : "";
}

async function showTransactions() {
  session.stop();
  const list = document.getElementById("transactions");
  const n = Number(document.getElementById("max-items").value);
  const data = await gql.once(Q.byIban, { iban: session.iban, n });
  list.replaceChildren(...(data.transactions_by_iban || []).filter(Boolean).map(transactionItem));
  if (list.firstChild) document.getElementById("balance").textContent = data.transactions_by_iban[0].new_balance;
  session.stop = gql.subscribe(Q.stream, { iban: session.iban }, p => {
    if (!p.data) return;
    const t = p.data.stream_transactions;
    if (list.querySelector(`li[data-id="${t.id}"]`)) return;
    list.prepend(transactionItem(t));
    while (list.children.length > n) list.lastChild.remove();
    document.getElementById("balance").textContent = t.new_balance;
  });
}

async function transfer(amount, from, to, token, descr) {
  const id = uuid();
  status("sending…");
  try {
    const data = await gql.once(Q.transfer, { id, u: session.user, t: token, a: amount, f: from, to, d: descr });
    const r = data.money_transfer;
    document.getElementById("status").dataset.uuid = id;
    if (r.success) status(`${euros(amount)} ${from === "cash" ? "deposited" : "sent"}`);
    else status(`refused: ${r.reason}`, true);
  } catch (e) {
    status(`failed: ${e.message}`, true);
  }
}

pages.client = () => {
  const deposits = document.getElementById("deposits");
  if (!deposits.children.length) {
    for (const cents of DEPOSITS) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "deposit";
      b.dataset.cents = cents;
      b.textContent = euros(cents);
      b.onclick = () => transfer(cents, "cash", session.iban, "cash", "deposit");
      deposits.append(b);
    }
    document.getElementById("login-form").onsubmit = async event => {
      event.preventDefault();
      const u = document.getElementById("username").value.trim();
      const p = document.getElementById("password").value;
      if (p.length < 8) return status("the password needs at least 8 characters", true);
      status("logging in…");
      try {
        const r = (await gql.once(Q.account, { u, p })).get_account;
        if (r.reason) return status(r.reason, true);
        Object.assign(session, { user: u, iban: r.iban, token: r.token });
        document.getElementById("iban").textContent = r.iban;
        document.getElementById("account").hidden = false;
        document.getElementById("login-form").hidden = true;
        status(`logged in as ${u}`);
        await showTransactions();
      } catch (e) {
        status(`failed: ${e.message}`, true);
      }
    };
    document.getElementById("transfer-form").onsubmit = event => {
      event.preventDefault();
      const cents = toCents(document.getElementById("amount").value);
      if (cents === null) return status("amount: euros and cents from 0.01 to 1,000,000, e.g. 12.34", true);
      transfer(cents, session.iban, document.getElementById("to").value.trim(), session.token, document.getElementById("descr").value);
    };
    document.getElementById("max-items").onchange = () => session.iban && showTransactions();
  }
  return () => {};
};

pages.employee = () => {
  let page = 0, rows = [], stopFollow = () => {};
  const body = document.getElementById("accounts");
  const draw = () => {
    const shown = rows.slice(page * 20, page * 20 + 20);
    body.replaceChildren(...shown.map(t => {
      const tr = document.createElement("tr");
      for (const v of [t.iban, t.new_balance, `${t.direction === "CREDIT" ? "+" : "−"}${t.changed_by}`, t.from_to, t.descr]) {
        const td = document.createElement("td");
        td.textContent = v;
        tr.append(td);
      }
      const follow = document.createElement("button");
      follow.type = "button";
      follow.textContent = "follow";
      follow.onclick = () => {
        stopFollow();
        document.getElementById("following-title").hidden = false;
        document.getElementById("following").textContent = t.iban;
        const feed = document.getElementById("follow-feed");
        feed.replaceChildren();
        stopFollow = gql.subscribe(Q.stream, { iban: t.iban }, p => p.data && feed.prepend(transactionItem(p.data.stream_transactions)));
      };
      const td = document.createElement("td");
      td.append(follow);
      tr.append(td);
      return tr;
    }));
    document.getElementById("page-number").textContent = `page ${page + 1} of ${Math.max(1, Math.ceil(rows.length / 20))}`;
  };
  document.getElementById("prev-page").onclick = () => { page = Math.max(0, page - 1); draw(); };
  document.getElementById("next-page").onclick = () => { page = Math.min(Math.max(0, Math.ceil(rows.length / 20) - 1), page + 1); draw(); };
  gql.once(Q.last, {}).then(d => { rows = (d.all_last_transactions || []).filter(Boolean); draw(); });
  return () => stopFollow();
};

// "2025-06-01 14:05" in the reader's time zone: when the report was written is what tells them apart.
function when(iso) {
  const d = new Date(iso);
  const two = n => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

function reportItem(r) {
  const li = document.createElement("li");
  const page = document.createElement("a");
  page.className = "report";
  page.href = config.reports + encodeURIComponent(r.file);
  page.textContent = r.name;
  const about = document.createElement("span");
  about.className = "muted";
  about.textContent = ` ${when(r.modified)} · ${Math.max(1, Math.round(r.bytes / 1024))} KiB`;
  li.append(page, about);
  if (r.data) {
    const data = document.createElement("a");
    data.href = config.reports + encodeURIComponent(r.data);
    data.textContent = "data (JSON)";
    li.append(" · ", data);
  }
  return li;
}

// Lists what this frontend serves from its reports folder; an empty or absent folder is not an error.
async function listReports() {
  const list = document.getElementById("reports-list");
  const note = document.getElementById("reports-status");
  delete note.dataset.state;
  note.className = "muted";
  note.textContent = "looking for reports…";
  try {
    const response = await fetch(config.reports, { cache: "no-store" });
    if (!response.ok) throw new Error(`${response.status} ${(await response.text()).trim()}`);
    const reports = await response.json();
    list.replaceChildren(...reports.map(reportItem));
    note.textContent = reports.length ? "" : "no reports yet: `bench report` writes them to reports/";
  } catch (e) {
    list.replaceChildren();
    note.className = "error";
    note.textContent = `cannot list the reports: ${e.message}`;
  }
  note.dataset.state = "listed";
}

// With RESULTS_URL set (reports published somewhere else), a link there; else the reports served here.
pages.results = () => {
  const elsewhere = Boolean(config.results) && config.results !== config.reports;
  document.getElementById("results-elsewhere").hidden = !elsewhere;
  document.getElementById("results-here").hidden = elsewhere;
  if (elsewhere) document.getElementById("results-link").href = config.results;
  else listReports();
  return () => {};
};

function route() {
  leave();
  const name = (location.hash.replace(/^#\/?/, "") || "home").split("/")[0];
  const page = pages[name] ? name : "home";
  for (const p of Object.keys(pages)) document.getElementById(`page-${p}`).hidden = p !== page;
  leave = pages[page]() || (() => {});
}

window.addEventListener("hashchange", route);
gql.connect();
route();
