/* The dashboard page (GET /): inputs <-> URL query, calls to the JSON API, progress, problems
 * shown at their fields, exports (CSV from the API, the self-contained HTML report built here
 * from the same files the server's report uses). Charts are drawn by charts.js. */
(function () {
  "use strict";

  const body = document.body;
  const STATIC = body.dataset.static; // ends with "/"
  const BASE = STATIC.replace(/static\/$/, ""); // the app's root, so a stage prefix works
  const DEFAULTS = JSON.parse(body.dataset.defaults);
  const STRATEGIES = body.dataset.strategies.split(",").filter(Boolean);
  const BATTERY = JSON.parse(body.dataset.batteryFields);
  const TABS = ["optimize", "sizing", "siting"];
  const TOKEN_KEY = "battery-arbitrage-api-token";
  const OTHER_STRATEGIES_AT_ONCE = 2; // requests in flight for the cumulative chart
  const REPORT_FILES = {
    SHELL: "ui/report.html",
    UPLOT_CSS: "vendor/uplot/uPlot.min.css",
    DASHBOARD_CSS: "ui/dashboard.css",
    UPLOT_JS: "vendor/uplot/uPlot.iife.min.js",
    CHARTS_JS: "ui/charts.js",
    REPORT_JS: "ui/report.js",
  };

  const form = document.getElementById("inputs");
  const inputs = Array.from(form.querySelectorAll("[name]"));
  const statusBox = document.getElementById("status");
  const problemBox = document.getElementById("problem");
  const panels = {
    optimize: document.getElementById("results"),
    sizing: document.getElementById("sizing-results"),
    siting: document.getElementById("siting-results"),
  };
  const done = { optimize: null, sizing: null, siting: null }; // request key last drawn per tab

  let tab = "optimize";
  let day = null;
  let lastData = null;
  const lastAnswer = { sizing: null, siting: null }; // redrawn when the window resizes
  let runId = 0;
  let controller = null;
  let timer = null;

  /* ---------- URL state ---------- */

  function readForm() {
    const values = {};
    for (const input of inputs) values[input.name] = input.value.trim();
    // zone and node keys are upper case; "all" (every zone) stays as typed
    values.zone = values.zone.toUpperCase();
    if (values.zones.toLowerCase() !== "all") values.zones = values.zones.toUpperCase();
    return values;
  }

  function fillForm(params) {
    for (const input of inputs) {
      const value = params.has(input.name) ? params.get(input.name) : DEFAULTS[input.name];
      const text = value === undefined || value === null ? "" : value;
      if (input.tagName === "SELECT") selectValue(input, text);
      else input.value = text;
    }
  }

  /** A link's value for a select: matched regardless of case (`process=mtr`); a value no
   * option has is kept as an option of its own, so that the request sends it and the API's
   * 422 names it at its field, instead of the select falling back to a default unseen. */
  function selectValue(select, text) {
    for (const option of select.querySelectorAll("option[data-from-link]")) option.remove();
    const options = Array.from(select.options);
    const match = options.find((o) => o.value === text) ||
      options.find((o) => o.value.toLowerCase() === text.toLowerCase());
    if (match || text === "") {
      select.value = match ? match.value : "";
      return;
    }
    const option = document.createElement("option");
    option.value = text;
    option.textContent = text;
    option.dataset.fromLink = "true";
    select.append(option);
    select.value = text;
  }

  function loadUrl() {
    const params = new URLSearchParams(window.location.search);
    fillForm(params);
    day = params.get("day");
    setTab(TABS.includes(params.get("tab")) ? params.get("tab") : "optimize", { run: false });
  }

  function urlQuery() {
    const values = readForm();
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(values)) {
      if (value === "") continue;
      if (name === "durations" && tab !== "sizing") continue;
      if (name === "zones" && tab !== "siting") continue;
      params.set(name, value);
    }
    if (tab !== "optimize") params.set("tab", tab);
    if (day && tab === "optimize") params.set("day", day);
    return "?" + params.toString();
  }

  function writeUrl(push) {
    const query = urlQuery();
    if (query === window.location.search) return;
    if (push) window.history.pushState(null, "", query);
    else window.history.replaceState(null, "", query);
  }

  /* ---------- request bodies (SPEC §4, §10) ---------- */

  function number(text) {
    const value = Number(text);
    return text !== "" && Number.isFinite(value) ? value : text; // the API reports non-numbers
  }

  function batteryParams(values, withDuration) {
    const battery = {};
    for (const name of BATTERY) {
      if (name === "duration_hours" && !withDuration) continue;
      if (values[name] !== "") battery[name] = number(values[name]);
    }
    return battery;
  }

  function dropEmpty(object) {
    return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== ""));
  }

  function optimizeBody(values) {
    return {
      battery_params: batteryParams(values, true),
      market_params: dropEmpty({
        zone: values.zone, system: values.system, process: values.process,
        start_date: values.start, end_date: values.end,
      }),
      strategy: values.strategy, horizon: values.horizon, compare: true,
    };
  }

  function sizingBody(values) {
    const request = {
      battery_params: batteryParams(values, false),
      market_params: dropEmpty({
        zone: values.zone, system: values.system, process: values.process,
        start_date: values.start, end_date: values.end,
      }),
      strategy: values.strategy, horizon: values.horizon,
    };
    if (values.durations !== "") {
      request.durations_hours = values.durations.split(",").map((s) => number(s.trim()));
    }
    return request;
  }

  function sitingBody(values) {
    const zones = values.zones.toLowerCase() === "all" ? "all"
      : values.zones.split(",").map((s) => s.trim()).filter(Boolean);
    return {
      battery_params: batteryParams(values, true),
      market_params: dropEmpty({
        zones: zones, process: values.process, start_date: values.start, end_date: values.end,
      }),
      strategy: values.strategy, horizon: values.horizon,
    };
  }

  /* ---------- API calls ---------- */

  function api(path, payload, accept) {
    const headers = { Accept: accept || "application/json" };
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    const token = window.sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = "Bearer " + token;
    return fetch(BASE + path, {
      method: payload === undefined ? "GET" : "POST",
      headers,
      body: payload === undefined ? undefined : JSON.stringify(payload),
      signal: controller ? controller.signal : undefined,
    });
  }

  async function readProblem(response) {
    let problem = null;
    try {
      problem = await response.json();
    } catch (error) {
      problem = null;
    }
    if (!problem || typeof problem !== "object") {
      problem = { title: `HTTP ${response.status}`, detail: response.statusText || "" };
    }
    // API Gateway answers its own 401/403 as {"message": ...}
    problem.title = problem.title || problem.message || `HTTP ${response.status}`;
    problem.status = problem.status || response.status;
    if (response.status === 401 || response.status === 403) {
      problem.hint = "This deployment needs a token: paste it under \u201cAPI token\u201d at the top.";
    }
    return problem;
  }

  /* ---------- progress and problems ---------- */

  function startProgress(label) {
    stopTimer();
    const started = performance.now();
    const text = document.createElement("span");
    text.textContent = `${label}\u2026`; // announced once (the status is aria-live)
    const clock = document.createElement("span");
    clock.setAttribute("aria-hidden", "true"); // a ticking clock is not read out 10 times a second
    text.append(clock);
    const spinner = document.createElement("span");
    spinner.className = "spinner";
    statusBox.replaceChildren(spinner, text);
    const tick = () => {
      clock.textContent = ` ${((performance.now() - started) / 1000).toFixed(1)} s`;
    };
    tick();
    timer = window.setInterval(tick, 100);
    body.dataset.state = "running";
    clearProblems();
    for (const button of form.querySelectorAll("button")) button.disabled = true;
    return started;
  }

  function stopTimer() {
    if (timer !== null) window.clearInterval(timer);
    timer = null;
  }

  function finish(state, message) {
    stopTimer();
    // results left from an earlier run are dimmed while a problem is shown
    panels[tab].classList.toggle("stale", state === "error");
    statusBox.textContent = message || "";
    for (const button of form.querySelectorAll("button")) button.disabled = false;
    body.dataset.state = state;
  }

  function clearProblems() {
    problemBox.replaceChildren();
    for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
    for (const input of inputs) input.removeAttribute("aria-invalid");
  }

  function errorSlot(path) {
    let key = path;
    while (key) {
      const slot = form.querySelector(`[data-error-for="${CSS.escape(key)}"]`);
      if (slot) return slot;
      const cut = key.lastIndexOf(".");
      key = cut > 0 ? key.slice(0, cut) : "";
    }
    return null;
  }

  function showProblem(problem) {
    clearProblems();
    const unplaced = [];
    for (const [path, messages] of Object.entries(problem.errors || {})) {
      const text = [].concat(messages).join(" ");
      const slot = errorSlot(path);
      if (!slot) {
        unplaced.push(`${path}: ${text}`);
        continue;
      }
      slot.textContent = slot.textContent ? `${slot.textContent} ${text}` : text;
      const input = slot.parentElement.querySelector("[name]");
      if (input) input.setAttribute("aria-invalid", "true");
    }
    const title = document.createElement("strong");
    title.textContent = `${problem.title || "Error"}${problem.status ? ` (${problem.status})` : ""}`;
    const parts = [title];
    for (const line of [problem.detail, problem.hint]) {
      if (line) {
        const p = document.createElement("div");
        p.textContent = line;
        parts.push(p);
      }
    }
    if (unplaced.length) {
      const list = document.createElement("ul");
      for (const line of unplaced) {
        const item = document.createElement("li");
        item.textContent = line;
        list.append(item);
      }
      parts.push(list);
    }
    problemBox.replaceChildren(...parts);
    // the first field marked wrong takes the focus (its message is its description)
    const first = form.querySelector("[name][aria-invalid='true']");
    if (first) first.focus();
  }

  /** Each field's error slot is its accessible description (read with the field). */
  function describeFields() {
    for (const input of inputs) {
      const slot = input.closest(".field") && input.closest(".field").querySelector(".field-error");
      if (!slot) continue;
      slot.id = `${input.id}-error`;
      input.setAttribute("aria-describedby", slot.id);
    }
  }

  /** {body} (decoded JSON), {response} (for another Accept), {problem} or {aborted}. */
  async function call(path, payload, accept) {
    try {
      const response = await api(path, payload, accept);
      if (!response.ok) return { problem: await readProblem(response) };
      if (accept) return { response };
      try {
        return { body: await response.json() };
      } catch (error) {
        return { problem: { title: "The server's answer is not JSON", detail: String(error), status: response.status } };
      }
    } catch (error) {
      if (error && error.name === "AbortError") return { aborted: true };
      return { problem: { title: "The server could not be reached", detail: String(error) } };
    }
  }

  function newRun() {
    if (controller) controller.abort();
    controller = new AbortController();
    runId += 1;
    return runId;
  }

  /** work(item) for every item, at most `size` at a time (kind to a throttled deployment). */
  async function inPool(items, size, work) {
    const results = new Array(items.length);
    let next = 0;
    const worker = async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
    return results;
  }

  /** Runs draw(); a failure is shown as a problem instead of leaving the page half-drawn. */
  function drawn(draw) {
    try {
      draw();
      return true;
    } catch (error) {
      showProblem({ title: "The results could not be drawn", detail: String(error) });
      finish("error", "");
      console.error(error);
      return false;
    }
  }

  /** A number field holding text the browser cannot read as a number (`1e`) reads as ""
   * (the field left out of the request); it is shown as an error instead and the run stops. */
  function refuseUnreadable() {
    const errors = {};
    for (const input of inputs) {
      // a hidden field is not sent on this tab (Sizing's duration, data-tab-hide)
      if (input.validity && input.validity.badInput && !input.closest("[hidden]")) {
        errors[input.dataset.path] = ["Not a number."];
      }
    }
    if (!Object.keys(errors).length) return false;
    showProblem({ title: "Some fields are not numbers", errors: errors });
    finish("error", "");
    return true;
  }

  /* ---------- the three tabs ---------- */

  function renderOptimize() {
    if (!lastData) return;
    drawnWidth.optimize = window.innerWidth;
    const view = BatteryCharts.renderResults(panels.optimize, lastData, {
      day: day,
      onDayChange: (picked) => {
        day = picked;
        writeUrl(false);
      },
    });
    if (day && view.day() !== day) {
      day = null; // a day outside the new dates is forgotten, in the URL too
      writeUrl(false);
    }
  }

  async function runOptimize() {
    const id = newRun();
    if (refuseUnreadable()) return;
    const values = readForm();
    const payload = optimizeBody(values);
    const started = startProgress("Optimising");
    const main = await call("optimize", payload);
    if (id !== runId || main.aborted) return;
    if (main.problem) {
      showProblem(main.problem);
      finish("error", "");
      return;
    }
    const result = main.body;
    lastData = { request: values, result: result, strategies: {} };
    done.optimize = null; // drawn only once the other strategies are back too
    if (!drawn(renderOptimize)) return;
    const others = STRATEGIES.filter((name) => name !== result.strategy);
    startProgress("Running the other strategies for the cumulative chart");
    const answers = await inPool(others, OTHER_STRATEGIES_AT_ONCE, async (name) => {
      const answer = await call("optimize", Object.assign({}, payload, { strategy: name, compare: false }));
      const days = answer.body && answer.body.daily_schedules;
      return [name, Array.isArray(days) ? days.map((d) => d.revenue) : null];
    });
    if (id !== runId) return;
    const missing = [];
    for (const [name, daily] of answers) {
      if (daily) lastData.strategies[name] = daily;
      else missing.push(name);
    }
    done.optimize = JSON.stringify(payload);
    if (!drawn(renderOptimize)) return;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    finish("ready", `Done in ${seconds} s` + (missing.length ? ` (no daily revenue for ${missing.join(", ")})` : ""));
  }

  async function runSizing() {
    const id = newRun();
    if (refuseUnreadable()) return;
    const payload = sizingBody(readForm());
    const started = startProgress("Sizing");
    const answer = await call("sizing", payload);
    if (id !== runId || answer.aborted) return;
    if (answer.problem) {
      showProblem(answer.problem);
      finish("error", "");
      return;
    }
    lastAnswer.sizing = answer.body;
    if (!drawn(() => drawAnswer("sizing"))) return;
    done.sizing = JSON.stringify(payload);
    finish("ready", `Done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }

  async function runSiting() {
    const id = newRun();
    if (refuseUnreadable()) return;
    const payload = sitingBody(readForm());
    const started = startProgress("Ranking zones");
    const answer = await call("siting", payload);
    if (id !== runId || answer.aborted) return;
    if (answer.problem) {
      showProblem(answer.problem);
      finish("error", "");
      return;
    }
    lastAnswer.siting = answer.body;
    if (!drawn(() => drawAnswer("siting"))) return;
    done.siting = JSON.stringify(payload);
    finish("ready", `Done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }

  /** Redraws the current tab's charts where the window's width changed since they were
   * drawn (a resize, or a tab drawn at another width); a taller window needs nothing. */
  const drawnWidth = { optimize: null, sizing: null, siting: null };
  function fitWidth() {
    if (drawnWidth[tab] === null || drawnWidth[tab] === window.innerWidth) return;
    if (tab === "optimize") renderOptimize();
    else drawAnswer(tab);
  }

  /** Draws the last sizing or siting answer at the window's width, and notes that width. */
  function drawAnswer(name) {
    drawnWidth[name] = window.innerWidth;
    const render = name === "sizing" ? BatteryCharts.renderSizing : BatteryCharts.renderSiting;
    render(panels[name], lastAnswer[name]);
  }

  const RUNNERS = { optimize: runOptimize, sizing: runSizing, siting: runSiting };
  const BODIES = { optimize: optimizeBody, sizing: sizingBody, siting: sitingBody };

  function setTab(name, options) {
    tab = name;
    for (const button of document.querySelectorAll("nav.tabs [data-tab]")) {
      button.setAttribute("aria-selected", String(button.dataset.tab === name));
    }
    for (const [key, panel] of Object.entries(panels)) panel.hidden = key !== name;
    for (const field of form.querySelectorAll("[data-tab-only]")) {
      field.hidden = field.dataset.tabOnly !== name;
    }
    // fields a tab does not send (siting: each zone's system is the catalogue's; sizing: its
    // durations replace the duration) are not shown there
    for (const field of form.querySelectorAll("[data-tab-hide]")) {
      field.hidden = field.dataset.tabHide === name;
    }
    document.getElementById("download-csv").hidden = name !== "optimize";
    document.getElementById("download-report").hidden = name !== "optimize";
    if (options.run && done[name] !== JSON.stringify(BODIES[name](readForm()))) {
      writeUrl(true);
      RUNNERS[name]();
    } else if (options.run) {
      writeUrl(true);
      fitWidth(); // drawn before, maybe at another width
    }
  }

  /* ---------- exports ---------- */

  function save(blob, filename) {
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = filename;
    document.body.append(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  function fileStem(values) {
    const zone = (values.zone || "prices").replace(/[^A-Za-z0-9.-]+/g, "_");
    return `battery-${zone}-${values.start}-${values.end}-${values.strategy}`;
  }

  async function downloadCsv() {
    newRun();
    // the schedule on screen (the last run's request), not edits not yet run
    const values = lastData ? lastData.request : readForm();
    const payload = Object.assign(optimizeBody(values), { compare: false });
    clearProblems();
    startProgress("Preparing the CSV");
    const answer = await call("optimize", payload, "text/csv");
    if (answer.aborted) return;
    if (answer.problem) {
      showProblem(answer.problem);
      finish("error", "");
      return;
    }
    const type = answer.response.headers.get("Content-Type") || "";
    if (!type.startsWith("text/csv")) {
      showProblem({ title: "CSV export not available", detail: `This server answered ${type} instead of text/csv.` });
      finish("error", "");
      return;
    }
    save(await answer.response.blob(), fileStem(values) + ".csv");
    finish("ready", "CSV downloaded");
  }

  /** The report: the server's report shell with the same files and this page's data inlined. */
  function fillReport(files, data) {
    for (const [key, text] of Object.entries(files)) {
      if (key.endsWith("_JS") && /<\/script/i.test(text)) throw new Error(`${key} cannot be inlined`);
    }
    const json = JSON.stringify(data).replace(/</g, "\\u003c");
    const parts = Object.assign({}, files, { DATA: json });
    return files.SHELL.replace(/@@([A-Z_]+)@@/g, (match, key) => (key in parts && key !== "SHELL" ? parts[key] : match));
  }

  async function downloadReport() {
    if (!lastData) {
      showProblem({ title: "Nothing to report yet", detail: "Run an optimisation first." });
      return;
    }
    try {
      const entries = await Promise.all(Object.entries(REPORT_FILES).map(async ([key, path]) => {
        const response = await fetch(STATIC + path);
        if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
        return [key, await response.text()];
      }));
      const data = Object.assign({}, lastData, { generated: new Date().toISOString() });
      const html = fillReport(Object.fromEntries(entries), data);
      save(new Blob([html], { type: "text/html;charset=utf-8" }), fileStem(lastData.request) + ".html");
      // beside a problem, the report is of the results still on screen, not of the failed request
      const shown = lastData.request;
      statusBox.textContent = problemBox.childElementCount
        ? `Report downloaded: the results on screen (${shown.zone || "inline prices"}, ${shown.start} .. ${shown.end}), not the request that failed`
        : "Report downloaded";
    } catch (error) {
      showProblem({ title: "The report could not be built", detail: String(error) });
    }
  }

  /* ---------- zone list, token, events ---------- */

  const zoneSystems = new Map();

  async function loadZones() {
    const note = document.getElementById("zone-note");
    try {
      const response = await api("zones");
      if (!response.ok) {
        note.textContent = `Zone list unavailable (HTTP ${response.status}); type a zone or node key.`;
        return;
      }
      const catalogue = await response.json();
      const list = document.getElementById("zone-list");
      for (const entry of catalogue.zones || []) {
        zoneSystems.set(entry.zone, entry.system);
        const option = document.createElement("option");
        option.value = entry.zone;
        option.label = `${entry.system}${entry.nodes ? `, ${entry.nodes} nodes` : ""}`;
        list.append(option);
      }
      note.textContent = "";
    } catch (error) {
      note.textContent = "Zone list unavailable; type a zone or node key.";
    }
  }

  function init() {
    describeFields();
    const token = document.getElementById("api-token");
    token.value = window.sessionStorage.getItem(TOKEN_KEY) || "";
    const saveToken = () => {
      if (token.value.trim()) window.sessionStorage.setItem(TOKEN_KEY, token.value.trim());
      else window.sessionStorage.removeItem(TOKEN_KEY);
    };
    token.addEventListener("change", saveToken);
    document.getElementById("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      saveToken();
    });
    document.getElementById("f-zone").addEventListener("change", (event) => {
      const system = zoneSystems.get(event.target.value.trim().toUpperCase());
      if (system) document.getElementById("f-system").value = system;
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      writeUrl(true);
      RUNNERS[tab]();
    });
    for (const button of document.querySelectorAll("nav.tabs [data-tab]")) {
      button.addEventListener("click", () => setTab(button.dataset.tab, { run: true }));
    }
    document.getElementById("download-csv").addEventListener("click", downloadCsv);
    document.getElementById("download-report").addEventListener("click", downloadReport);
    window.addEventListener("popstate", () => {
      loadUrl();
      RUNNERS[tab]();
    });
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      window.clearTimeout(resizeTimer);
      resizeTimer = window.setTimeout(fitWidth, 250);
    });
    loadUrl();
    const zonesLoaded = loadZones();
    const linked = new URLSearchParams(window.location.search);
    if (linked.has("zone") && !linked.has("system")) {
      // a link naming a zone but not its system (`/?zone=MEXICALI`): the catalogue's system,
      // as picking the zone in the field does, before the first run
      zonesLoaded.then(() => {
        const system = zoneSystems.get(readForm().zone);
        if (system) document.getElementById("f-system").value = system;
        RUNNERS[tab]();
      });
    } else {
      RUNNERS[tab]();
    }
  }

  init();
})();
