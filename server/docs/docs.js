// Renders /openapi.json as a reference page: one section per operation with its parameters,
// request body, responses and examples. Plain DOM calls only (no innerHTML with document text),
// so nothing in the document can inject markup; no library, no CDN.
"use strict";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function resolve(doc, obj) {
  let seen = 0;
  while (obj && obj.$ref && seen++ < 16) {
    obj = obj.$ref.replace(/^#\//, "").split("/").reduce((o, k) => (o ? o[k] : undefined), doc);
  }
  return obj || {};
}

function typeOf(doc, schema) {
  const s = resolve(doc, schema);
  if (schema && schema.$ref) return schema.$ref.split("/").pop();
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (s.anyOf) return s.anyOf.map((x) => typeOf(doc, x)).join(" | ");
  if (s.type === "array") return "array of " + typeOf(doc, s.items || {});
  if (Array.isArray(s.type)) return s.type.join(" | ");
  return s.type || "any";
}

// A schema as a nested list of its properties, a few levels deep.
function schemaTree(doc, schema, depth) {
  const s = resolve(doc, schema);
  const box = el("div", { class: "schema" });
  const props = s.properties || (s.type === "array" && resolve(doc, s.items).properties) || null;
  if (!props || depth > 3) return box;
  const required = new Set(s.required || (s.type === "array" ? resolve(doc, s.items).required || [] : []));
  for (const [name, sub] of Object.entries(props)) {
    const line = el("div", {}, el("span", { class: "name" }, name), el("span", { class: "type" }, typeOf(doc, sub)));
    if (required.has(name)) line.append(el("span", { class: "req" }, "required"));
    const text = resolve(doc, sub).description;
    if (text) line.append(" — " + text);
    box.append(line, schemaTree(doc, sub, depth + 1));
  }
  return box;
}

function examplesOf(media) {
  const out = [];
  if (media.example !== undefined) out.push(media.example);
  for (const ex of Object.values(media.examples || {})) if (ex.value !== undefined) out.push(ex.value);
  return out.map((v) => el("pre", {}, JSON.stringify(v, null, 2)));
}

function parametersTable(doc, params) {
  if (!params || !params.length) return null;
  const table = el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, "type"), el("th", {}, "")));
  for (const raw of params) {
    const p = resolve(doc, raw);
    table.append(el("tr", {}, el("td", {}, el("code", {}, p.name), p.required ? el("span", { class: "req" }, " required") : null),
      el("td", {}, p.in), el("td", {}, typeOf(doc, p.schema || {})), el("td", {}, p.description || "")));
  }
  return table;
}

function responsesList(doc, responses) {
  const list = el("div", {});
  for (const [code, raw] of Object.entries(responses || {})) {
    const r = resolve(doc, raw);
    const row = el("div", { "data-code": code }, el("span", { class: "code" }, code), " " + (r.description || ""));
    for (const [type, media] of Object.entries(r.content || {})) {
      row.append(el("div", {}, el("code", {}, type), " ", el("span", { class: "type" }, typeOf(doc, media.schema || {}))));
      row.append(schemaTree(doc, media.schema || {}, 0), ...examplesOf(media));
    }
    list.append(row);
  }
  return list;
}

function operationSection(doc, path, method, o) {
  const id = o.operationId || method + path;
  const auth = (o.security || []).length ? "key: " + Object.keys(o.security[0]).join(", ") : "no key";
  const section = el("section", { class: "op", id },
    el("h3", {}, el("span", { class: "method " + method }, method.toUpperCase()), el("span", { class: "path" }, path),
      el("span", { class: "summary" }, o.summary || "")),
    el("div", { class: "auth" }, auth));
  if (o.description) section.append(el("p", {}, o.description));
  section.append(parametersTable(doc, o.parameters));
  if (o.requestBody) {
    section.append(el("h4", {}, "Request body"));
    for (const [type, media] of Object.entries(resolve(doc, o.requestBody).content || {}))
      section.append(el("code", {}, type), schemaTree(doc, media.schema || {}, 0), ...examplesOf(media));
  }
  section.append(el("h4", {}, "Responses"), responsesList(doc, o.responses));
  return section;
}

function render(doc) {
  const main = document.getElementById("reference");
  const toc = document.getElementById("toc");
  document.getElementById("title").textContent = doc.info.title + " (version " + doc.info.version + ")";
  document.getElementById("status").textContent = doc.info.description || "";
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, o] of Object.entries(item)) {
      const section = operationSection(doc, path, method, o);
      main.append(section);
      const tag = (o.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(el("a", { href: "#" + section.id }, method.toUpperCase() + " " + path));
    }
  }
  for (const [tag, links] of byTag) toc.append(el("h2", {}, tag), ...links);
  main.setAttribute("data-operations", String(main.querySelectorAll("section.op").length));
  main.setAttribute("data-loaded", "true");
}

fetch("/openapi.json")
  .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))))
  .then(render)
  .catch((e) => { document.getElementById("status").textContent = "Could not load /openapi.json: " + e.message; });
