// The API reference: renders /api/openapi.json and lets a reader try each route with their key.
"use strict";

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
};

function example(schema) {
  const out = {};
  for (const [name, p] of Object.entries(schema.properties ?? {})) {
    if (!(schema.required ?? []).includes(name)) continue;
    out[name] = { string: "", integer: 0, boolean: true, array: [], object: {} }[p.type] ?? null;
  }
  return JSON.stringify(out, null, 2);
}

function tryForm(method, path, op, n) {
  const form = el("form", { class: "stack" });
  const fields = [];
  for (const p of op.parameters ?? []) {
    const id = `op${n}-${p.in}-${p.name}`;
    const input = el("input", { id, name: p.name });
    form.append(el("label", { for: id }, `${p.name} (${p.in}${p.required ? ", required" : ""})`), input);
    fields.push([p, input]);
  }
  let body;
  const schema = op.requestBody?.content?.["application/json"]?.schema;
  if (schema) {
    const id = `op${n}-body`;
    body = el("textarea", { id, rows: "6", spellcheck: "false" });
    body.value = example(schema);
    const names = Object.entries(schema.properties).map(([k, p]) => `${k}${(schema.required ?? []).includes(k) ? "*" : ""}${p.description ? ` (${p.description})` : ""}`);
    form.append(el("label", { for: id }, "JSON body"), el("p", { class: "hint" }, names.join("; ")), body);
  }
  const result = el("pre", { class: "snippet", "aria-live": "polite" });
  form.append(el("button", { type: "submit", class: "primary" }, `Send ${method.toUpperCase()}`), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let url = path;
    const query = new URLSearchParams();
    for (const [p, input] of fields) {
      if (p.in === "path") url = url.replace(`{${p.name}}`, encodeURIComponent(input.value));
      else if (input.value) query.set(p.name, input.value);
    }
    if ([...query].length) url += `?${query}`;
    const headers = {};
    const key = document.getElementById("api-key").value.trim();
    if (key) headers.authorization = `Bearer ${key}`;
    if (body) headers["content-type"] = "application/json";
    result.textContent = "…";
    try {
      const res = await fetch(url, { method: method.toUpperCase(), headers, body: body ? body.value : undefined });
      const text = await res.text();
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch { /* not JSON */ }
      result.textContent = `${res.status} ${res.statusText}\n${shown.slice(0, 8000)}`;
    } catch (e) {
      result.textContent = `request failed: ${e}`;
    }
  });
  return form;
}

async function render() {
  const target = document.getElementById("operations");
  const doc = await (await fetch("/api/openapi.json")).json();
  const byTag = new Map();
  let n = 0;
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = op.tags?.[0] ?? "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([method, path, op, (n += 1)]);
    }
  }
  target.replaceChildren();
  const order = ["links", "domains", "events", "webhooks", "destinations", "integrations", "account", "nimriz", "meta"];
  const rank = (tag) => (order.includes(tag) ? order.indexOf(tag) : order.length);
  for (const [tag, ops] of [...byTag].sort(([a], [b]) => rank(a) - rank(b))) {
    const section = el("section", { class: "card", "aria-labelledby": `tag-${tag}` }, el("h2", { id: `tag-${tag}` }, tag));
    for (const [method, path, op, i] of ops) {
      const summary = el("summary", {}, el("code", {}, `${method.toUpperCase()} ${path}`), ` — ${op.summary}`);
      const details = el("details", { "data-operation": op.operationId }, summary);
      if (op.description) details.append(el("p", { class: "hint" }, op.description.replaceAll("`", "")));
      details.append(tryForm(method, path, op, i));
      section.append(details);
    }
    target.append(section);
  }
}

render().catch((e) => {
  document.getElementById("operations").textContent = `Could not load /api/openapi.json: ${e}`;
});
