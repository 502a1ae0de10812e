// The dashboard's saga pages: the list (#/sagas, filtered by status and definition) and one saga
// (#/sagas/<id>): its steps as a timeline, the step awaited and its deadline, sends per step,
// the compensation path, and the operator's abort and retry. Loaded before app.js, whose
// helpers (h, api, status, time, link, enc, act) these functions call when they run.
"use strict";

const SAGA_STATUSES = ["", "running", "compensating", "completed", "compensated", "failed"];

async function sagasView(params) {
  const query = new URLSearchParams();
  for (const k of ["status", "definition"]) if (params.get(k)) query.set(k, params.get(k));
  query.set("limit", "200");
  const list = await api("GET", "/api/sagas?" + query);
  const form = h("form", { class: "filters", id: "saga-filters", onsubmit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const k of ["status", "definition"]) { const v = form.elements[k].value.trim(); if (v) q.set(k, v); }
    location.hash = "#/sagas?" + q;
  } },
  h("select", { name: "status", id: "s-status" }, SAGA_STATUSES.map((s) => h("option", { value: s, selected: params.get("status") === s }, s || "any status"))),
  h("input", { name: "definition", id: "s-definition", placeholder: "definition", value: params.get("definition") || "" }),
  h("button", { type: "submit" }, "Filter"),
  link("#/sagas", "clear"));
  return [
    h("h2", {}, "Sagas (" + list.length + ")"),
    form,
    h("table", { id: "sagas" },
      h("thead", {}, h("tr", {}, ["Saga", "Definition", "Status", "Step", "Deadline", "Updated"].map((c) => h("th", {}, c)))),
      h("tbody", {}, list.map((s) => h("tr", { "data-saga": s.id, "data-status": s.status },
        h("td", {}, link("#/sagas/" + enc(s.id), s.id, { class: "saga-link" })),
        h("td", {}, s.definition),
        h("td", {}, status(s.status)),
        h("td", {}, s.current_step_name || "-"),
        h("td", {}, time(s.deadline)),
        h("td", {}, time(s.updated_at)))))),
    list.length ? null : h("p", { class: "muted", id: "sagas-empty" }, "No sagas."),
  ];
}

function sends(step) {
  const forward = step.attempts + (step.max_attempts ? "/" + step.max_attempts : "") + " send" + (step.attempts === 1 && !step.max_attempts ? "" : "s");
  if (!step.compensation_attempts) return forward;
  const cap = step.compensation_gives_up_after;
  const undo = step.compensation_attempts + (cap ? "/" + cap * (1 + step.operator_retries) : "") + " compensation send" + (step.compensation_attempts === 1 && !cap ? "" : "s");
  return forward + " · " + undo + (step.operator_retries ? " · retried " + step.operator_retries + "x" : "");
}

function timeline(saga) {
  return h("ol", { id: "saga-timeline", class: "timeline" }, saga.steps.map((st) => h("li", {
    class: "step " + st.status + (saga.current_step === st.index ? " current" : ""),
    "data-step": st.name, "data-status": st.status },
  h("div", {}, h("b", {}, (st.index + 1) + ". " + (st.name || "step " + st.index)), " ", status(st.status),
    saga.current_step === st.index ? h("span", { class: "muted" }, " · current") : null),
  h("div", { class: "muted" }, h("code", {}, st.command || ""), st.compensation ? [" · undone by ", h("code", {}, st.compensation)] : null),
  h("div", { class: "sends" }, sends(st)),
  h("div", { class: "muted" }, st.started_at ? "sent " + time(st.started_at) : "not sent", st.settled_at ? " · settled " + time(st.settled_at) : ""),
  st.result ? h("div", {}, "result ", h("code", {}, st.result)) : null,
  st.reason ? h("div", { class: "error" }, st.reason) : null)));
}

async function sagaView(id) {
  const saga = await api("GET", "/api/sagas/" + enc(id));
  const t = saga.timer;
  const actions = h("p", { id: "saga-actions" },
    saga.can_abort ? h("button", { id: "saga-abort", onclick: () => {
      const reason = prompt("Abort saga " + saga.id + ": why?");
      if (reason !== null) act(() => api("POST", "/api/sagas/" + enc(saga.id) + "/abort", { reason }));
    } }, "Abort") : null,
    saga.can_retry ? h("button", { id: "saga-retry", onclick: () => act(() => api("POST", "/api/sagas/" + enc(saga.id) + "/retry")) }, "Retry") : null);
  return [
    h("h2", {}, "Saga ", h("code", {}, saga.id), " ", status(saga.status)),
    h("p", { id: "saga-summary" }, saga.definition, " · run by ", saga.function, " · started ", time(saga.started_at),
      " · version ", String(saga.version), " · ", link("#/flow/" + enc(saga.id), "its events")),
    h("p", { id: "saga-current" }, saga.current_step_name
      ? ["Current step: ", h("b", {}, saga.current_step_name), t ? [" · ", t.phase, " ", t.purpose.replace("_", " "), " at ", h("span", { id: "saga-deadline" }, time(t.due))] : " · no deadline"]
      : "No step awaited."),
    saga.failure ? h("p", { class: "error", id: "saga-failure" }, saga.failure) : null,
    actions,
    h("h3", {}, "Steps"),
    timeline(saga),
    ...(saga.compensation_path.length ? [h("h3", {}, "Compensation path"),
      h("ol", { id: "saga-compensation" }, saga.compensation_path.map((c) => h("li", { "data-step": c.name }, c.name || "step " + c.step, " ", status(c.status))))] : []),
  ];
}
