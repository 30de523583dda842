/* Battery arbitrage results: KPI tiles, charts and tables drawn from a POST /optimize response.
 *
 * Shared by the dashboard (GET /) and the self-contained HTML report, so it never fetches
 * anything: it draws what it is given. Line and bar charts use uPlot; the day x hour heatmaps
 * and the ranked bars are drawn on a plain canvas.
 *
 * BatteryCharts.renderResults(container, data, options) where data is
 *   {request: {zone, start, end, ...}, result: <POST /optimize response>,
 *    strategies: {name: [daily revenue, ...]}}   (other strategies' daily revenues, optional)
 * and options is {day: "YYYY-MM-DD", onDayChange: function (day) {}}.
 */
(function (global) {
  "use strict";

  const NO_FORESIGHT = ["forecast", "learned"];
  const COLOURS = {
    optimal: "#0b6e4f", dp: "#6a3d9a", spread: "#e07b00", cycle: "#1f78b4",
    forecast: "#c0392b", learned: "#b03a7a",
  };
  const EXTRA_COLOURS = ["#555555", "#8c6d31", "#17becf", "#7f7f7f"];
  const PRICE_COLOUR = "#1d2733";
  const CHARGE_COLOUR = "#1f78b4";
  const DISCHARGE_COLOUR = "#e07b00";
  const SOC_COLOUR = "#0b6e4f";

  /* ---------- small helpers ---------- */

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children || []) {
      if (child) node.append(child);
    }
    return node;
  }

  function isNumber(value) {
    return typeof value === "number" && Number.isFinite(value);
  }

  function fmt(value, digits) {
    if (!isNumber(value)) return "n/a";
    return value.toLocaleString("en-US", {
      minimumFractionDigits: digits, maximumFractionDigits: digits,
    });
  }

  function colourOf(name, index) {
    return COLOURS[name] || EXTRA_COLOURS[index % EXTRA_COLOURS.length];
  }

  function dayToSeconds(date) {
    const [y, m, d] = date.split("-").map(Number);
    return Date.UTC(y, m - 1, d) / 1000;
  }

  function chartWidth(container) {
    return Math.max(280, Math.floor(container.clientWidth || 560) - 4);
  }

  /* ---------- derived numbers ---------- */

  /** Monthly rows: the response's `monthly` when present, else summed from the days. */
  function monthlyRows(result) {
    if (Array.isArray(result.monthly) && result.monthly.length) return result.monthly;
    const months = new Map();
    for (const day of result.daily_schedules) {
      const key = day.date.slice(0, 7);
      const row = months.get(key) || { month: key, days: 0, revenue: 0 };
      row.days += 1;
      row.revenue += day.revenue;
      months.set(key, row);
    }
    return Array.from(months.values());
  }

  /** KPI tiles as {key, label, value, unit, digits}; value undefined/null hides the tile. */
  function kpiTiles(result) {
    const summary = result.summary || {};
    const tiles = [
      { key: "total_revenue", label: "Total revenue", value: summary.total_revenue, unit: "MXN", digits: 0 },
      { key: "revenue_per_mw_year", label: "Revenue per MW-year", value: summary.revenue_per_mw_year, unit: "MXN/MW-yr", digits: 0 },
      { key: "cycles", label: "Cycles", value: summary.cycles, unit: "", digits: 2 },
      { key: "captured_spread", label: "Captured spread", value: summary.captured_spread, unit: "MXN/MWh", digits: 1 },
      { key: "pct_of_tb", label: "% of TB benchmark", value: summary.pct_of_tb, unit: "%", digits: 1 },
    ];
    for (const row of result.comparison || []) {
      if (NO_FORESIGHT.includes(row.strategy)) {
        tiles.push({
          key: "pct_of_optimal_" + row.strategy,
          label: "% of optimal: " + row.strategy,
          value: row.pct_of_optimal, unit: "%", digits: 1,
        });
      }
    }
    return tiles;
  }

  /* ---------- uPlot charts ---------- */

  const AXIS = { stroke: "#5f6b7a", grid: { stroke: "#eceff3", width: 1 }, ticks: { stroke: "#d9dee5" } };

  function utcDate(ts) {
    return global.uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC");
  }

  function dayChart(target, day, battery) {
    const hours = day.schedule.map((h) => h.hour);
    const price = day.schedule.map((h) => h.price);
    const charge = day.schedule.map((h) => (h.action === "charge" ? -h.power : null));
    const discharge = day.schedule.map((h) => (h.action === "discharge" ? h.power : null));
    const soc = day.schedule.map((h) => h.soc);
    const bars = global.uPlot.paths.bars({ size: [0.7, 40] });
    const power = battery && isNumber(battery.capacity_mw) ? battery.capacity_mw : null;
    return new global.uPlot({
      legend: { live: false },
      width: chartWidth(target), height: 260,
      scales: {
        x: { time: false, range: [-0.5, Math.max(23, ...hours) + 0.5] },
        mw: { range: (u, min, max) => {
          const m = Math.max(Math.abs(min || 0), Math.abs(max || 0), power || 0, 1e-9);
          return [-m * 1.05, m * 1.05];
        } },
        soc: { range: [0, 1] },
      },
      series: [
        { label: "hour" },
        { label: "price (MXN/MWh)", scale: "MXN/MWh", stroke: PRICE_COLOUR, width: 2 },
        { label: "charge (MW)", scale: "mw", fill: CHARGE_COLOUR, stroke: CHARGE_COLOUR, paths: bars, points: { show: false } },
        { label: "discharge (MW)", scale: "mw", fill: DISCHARGE_COLOUR, stroke: DISCHARGE_COLOUR, paths: bars, points: { show: false } },
        { label: "SoC", scale: "soc", stroke: SOC_COLOUR, width: 2, dash: [6, 4] },
      ],
      axes: [
        Object.assign({ label: "hour" }, AXIS),
        Object.assign({ scale: "MXN/MWh", label: "MXN/MWh", size: 60 }, AXIS),
        Object.assign({ scale: "mw", side: 1, label: "MW", size: 50, grid: { show: false } }, AXIS),
        Object.assign({ scale: "soc", side: 1, label: "SoC", size: 45, grid: { show: false } }, AXIS),
      ],
    }, [hours, price, charge, discharge, soc], target);
  }

  function cumulativeChart(target, result, strategies) {
    const dates = result.daily_schedules.map((d) => d.date);
    const xs = dates.map(dayToSeconds);
    const lines = [[result.strategy, result.daily_schedules.map((d) => d.revenue)]];
    for (const [name, daily] of Object.entries(strategies || {})) {
      if (name !== result.strategy && Array.isArray(daily) && daily.length === dates.length) {
        lines.push([name, daily]);
      }
    }
    const data = [xs];
    const series = [{ label: "date" }];
    lines.forEach(([name, daily], index) => {
      let total = 0;
      data.push(daily.map((v) => (total += v)));
      series.push({
        label: name, stroke: colourOf(name, index), width: name === result.strategy ? 2.5 : 1.5,
        points: { show: xs.length <= 2 },
      });
    });
    return new global.uPlot({
      legend: { live: false },
      width: chartWidth(target), height: 260, tzDate: utcDate,
      scales: { x: { time: true } },
      series,
      axes: [AXIS, Object.assign({ label: "MXN", size: 70 }, AXIS)],
    }, data, target);
  }

  function categoryBars(target, labels, values, options) {
    const xs = labels.map((_, i) => i);
    return new global.uPlot({
      legend: { live: false },
      width: chartWidth(target), height: options.height || 240,
      scales: {
        x: { time: false, range: [-0.5, labels.length - 0.5] },
        y: { range: (u, min, max) => [Math.min(0, min), Math.max(0, max) * 1.08 || 1] },
      },
      series: [
        { label: options.xLabel },
        {
          label: options.label, fill: options.colour, stroke: options.colour,
          paths: global.uPlot.paths.bars({ size: [0.7, 60] }), points: { show: false },
        },
      ],
      axes: [
        Object.assign({
          splits: () => xs,
          values: (u, splits) => splits.map((i) => labels[i] || ""),
        }, AXIS),
        Object.assign({ label: options.unit, size: 70 }, AXIS),
      ],
    }, [xs, values], target);
  }

  function linesChart(target, xs, seriesList, options) {
    return new global.uPlot({
      legend: { live: false },
      width: chartWidth(target), height: 260,
      scales: { x: { time: false } },
      series: [{ label: options.xLabel }].concat(seriesList.map((s) => ({
        label: s.label, stroke: s.colour, width: 2, points: { show: true, size: 6, fill: s.colour },
      }))),
      axes: [
        Object.assign({ label: options.xLabel }, AXIS),
        Object.assign({ label: options.unit, size: 70 }, AXIS),
      ],
    }, [xs].concat(seriesList.map((s) => s.values)), target);
  }

  /* ---------- canvas charts ---------- */

  const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

  function ramp(stops, t) {
    const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(x));
    const f = x - i;
    return stops[i].map((c, k) => Math.round(c + (stops[i + 1][k] - c) * f));
  }

  function dispatchColour(value, max) {
    if (!isNumber(value) || Math.abs(value) < 1e-9) return [240, 242, 245];
    const t = Math.min(1, Math.abs(value) / (max || 1));
    const end = value > 0 ? [224, 123, 0] : [31, 120, 180];
    return [245, 245, 245].map((c, k) => Math.round(c + (end[k] - c) * (0.25 + 0.75 * t)));
  }

  function setupCanvas(canvas, cssWidth, cssHeight) {
    const ratio = global.devicePixelRatio || 1;
    canvas.style.width = cssWidth + "px";
    canvas.style.height = cssHeight + "px";
    canvas.width = Math.round(cssWidth * ratio);
    canvas.height = Math.round(cssHeight * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.font = "11px system-ui, sans-serif";
    return ctx;
  }

  /** rows x 24 cells coloured by colourFn(value); dates down the left, hours along the bottom. */
  const LABEL_HALF_PX = 7; // half the heatmaps' 11-px date labels, and a pixel to spare

  function heatmap(target, dates, values, colourFn, cols, label) {
    const rows = dates.length;
    const left = 78, bottom = 22, top = 4, right = 6;
    const width = chartWidth(target);
    const plotH = Math.min(420, Math.max(160, rows * 8));
    const canvas = el("canvas", { className: "heatmap" });
    target.append(canvas);
    const ctx = setupCanvas(canvas, width, plotH + top + bottom);
    const cells = document.createElement("canvas");
    cells.width = cols;
    cells.height = rows;
    const cellCtx = cells.getContext("2d");
    const image = cellCtx.createImageData(cols, rows);
    for (let r = 0; r < rows; r++) {
      for (let h = 0; h < cols; h++) {
        const [red, green, blue] = colourFn(values[r * cols + h]);
        const o = (r * cols + h) * 4;
        image.data[o] = red; image.data[o + 1] = green; image.data[o + 2] = blue; image.data[o + 3] = 255;
      }
    }
    cellCtx.putImageData(image, 0, 0);
    const plotW = width - left - right;
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(cells, left, top, plotW, plotH);
    ctx.fillStyle = "#5f6b7a";
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    const every = Math.max(1, Math.ceil(rows / Math.max(1, Math.floor(plotH / 16))));
    for (let r = 0; r < rows; r += every) {
      // at least half a label's height (11 px) below the top: a year's first row is 1.1 px tall
      ctx.fillText(dates[r], left - 6, Math.max(LABEL_HALF_PX, top + (r + 0.5) * (plotH / rows)));
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (let h = 0; h < cols; h += 3) {
      ctx.fillText(String(h), left + (h + 0.5) * (plotW / cols), top + plotH + 5);
    }
    canvas.addEventListener("mousemove", (event) => {
      const r = Math.floor(((event.offsetY - top) / plotH) * rows);
      const h = Math.floor(((event.offsetX - left) / plotW) * cols);
      const inside = r >= 0 && r < rows && h >= 0 && h < cols;
      canvas.title = inside ? `${dates[r]} hour ${h}: ${label(values[r * cols + h])}` : "";
    });
    return canvas;
  }

  function legendBar(text0, text1, colourFn) {
    const canvas = el("canvas", { width: 64, height: 8 });
    const ctx = canvas.getContext("2d");
    for (let i = 0; i < 64; i++) {
      const [r, g, b] = colourFn(i / 63);
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(i, 0, 1, 8);
    }
    return el("div", { className: "heatmap-legend" }, [
      el("span", { text: text0 }), canvas, el("span", { text: text1 }),
    ]);
  }

  /** Horizontal ranked bars (siting): one row per label, values in `unit`. */
  function rankedBars(target, labels, values, unit) {
    const rowH = 18, left = 130, right = 140, top = 4;
    const width = chartWidth(target);
    const canvas = el("canvas", { className: "bars" });
    target.append(canvas);
    const height = top * 2 + rowH * labels.length;
    const ctx = setupCanvas(canvas, width, height);
    const max = Math.max(...values.filter(isNumber).map(Math.abs), 1e-9);
    const span = width - left - right;
    ctx.textBaseline = "middle";
    labels.forEach((label, i) => {
      const v = values[i];
      const y = top + i * rowH;
      ctx.fillStyle = "#5f6b7a";
      ctx.textAlign = "right";
      ctx.fillText(label, left - 6, y + rowH / 2);
      if (!isNumber(v)) return;
      ctx.fillStyle = v >= 0 ? "#0b6e4f" : "#b3261e";
      ctx.fillRect(left, y + 3, Math.max(1, (Math.abs(v) / max) * span), rowH - 6);
      ctx.fillStyle = "#1d2733";
      ctx.textAlign = "left";
      ctx.fillText(fmt(v, 0) + " " + unit, left + (Math.abs(v) / max) * span + 4, y + rowH / 2);
    });
    return canvas;
  }

  /* ---------- tables ---------- */

  function table(columns, rows, rowClass) {
    const cls = (c) => (c.text ? "text" : null);
    const head = el("tr", {}, columns.map((c) => el("th", { text: c.label, className: cls(c) })));
    const body = rows.map((row) => el("tr", { className: rowClass ? rowClass(row) : null },
      columns.map((c) => el("td", { text: c.format(row), className: cls(c) }))));
    return el("div", { className: "scroll" }, [
      el("table", { className: "data" }, [el("thead", {}, [head]), el("tbody", {}, body)]),
    ]);
  }

  function num(key, digits) {
    return (row) => fmt(row[key], digits);
  }

  /* ---------- the results view ---------- */

  /** A chart's panel: its heading names the chart for assistive technology too (the chart is
   * a figure labelled by it; the numbers behind it are in the page's tables and tooltips). */
  function panel(title, id, extra) {
    const heading = el("h2", { text: title, id: `${id}-title` });
    const body = el("div", { className: "chart", id: id, role: "figure", "aria-labelledby": heading.id });
    const node = el("section", { className: "panel chart-panel" }, [heading].concat(extra || [], [body]));
    return { node, body };
  }

  function describe(request, result) {
    const market = result.market || {};
    const zone = market.zone || (request && request.zone) || "inline prices";
    const parts = [
      `${zone} (${market.system || ""} ${market.process || ""}, prices from ${market.source || "?"})`,
      `${market.start_date || ""} .. ${market.end_date || ""}`,
      `strategy ${result.strategy}, horizon ${result.horizon || "daily"}`,
    ];
    const b = result.battery || (request ? {
      capacity_mw: Number(request.capacity_mw), duration_hours: Number(request.duration_hours),
    } : null);
    if (b && isNumber(b.capacity_mw)) {
      parts.push(`${fmt(b.capacity_mw, 1)} MW / ${fmt(b.capacity_mw * b.duration_hours, 1)} MWh`);
    }
    return parts.join(" · ");
  }

  function renderResults(container, data, options) {
    options = options || {};
    destroy(container);
    const result = data.result;
    const charts = [];
    const days = result.daily_schedules;
    const battery = result.battery || { capacity_mw: Number((data.request || {}).capacity_mw) };

    container.append(el("p", { className: "meta", id: "results-meta", text: describe(data.request, result) }));

    const kpis = el("div", { className: "kpis", id: "kpis" });
    for (const tile of kpiTiles(result)) {
      const present = isNumber(tile.value);
      kpis.append(el("div", {
        className: "kpi", id: "kpi-" + tile.key, "data-key": tile.key,
        "data-value": present ? String(tile.value) : null, hidden: !present,
      }, [
        el("div", { className: "label", text: tile.label }),
        el("div", { className: "value" }, [
          document.createTextNode(fmt(tile.value, tile.digits)),
          el("span", { className: "unit", text: tile.unit }),
        ]),
      ]));
    }
    container.append(kpis);

    // Day view with its picker.
    const dates = days.map((d) => d.date);
    let current = options.day && dates.includes(options.day) ? options.day
      : (result.summary && result.summary.best_day && dates.includes(result.summary.best_day.date)
        ? result.summary.best_day.date : dates[0]);
    const picker = el("select", { id: "day-select", "aria-label": "day shown" },
      dates.map((d) => el("option", { value: d, text: d, selected: d === current })));
    const dayNote = el("p", { className: "note", id: "day-note" });
    const dayPanel = panel("Day view: price, charge/discharge and state of charge", "chart-day", [
      el("label", { className: "note" }, [document.createTextNode("Day "), picker]), dayNote,
    ]);
    const cumNote = el("p", { className: "note", id: "cumulative-note" });
    const cumPanel = panel("Cumulative revenue by strategy", "chart-cumulative", [cumNote]);
    const monthPanel = panel("Revenue by month", "chart-monthly");
    const dispatchPanel = panel("Dispatch by day and hour", "chart-heatmap-dispatch", [
      legendBar("charge", "discharge", (t) => dispatchColour(2 * t - 1, 1)),
    ]);
    const pricePanel = panel("Price by day and hour", "chart-heatmap-price");
    container.append(el("div", { className: "grid2" }, [dayPanel.node, cumPanel.node]));
    container.append(el("div", { className: "grid2" }, [dispatchPanel.node, pricePanel.node]));
    const lastRow = el("div", { className: "grid2" }, [monthPanel.node]);
    container.append(lastRow);

    // Every panel is in place before anything is drawn, so each chart gets its final width.
    // Comparison table.
    const rows = result.comparison || [];
    if (rows.length) {
      const columns = [
        { label: "strategy", format: (r) => r.strategy },
        { label: "revenue (MXN)", format: num("total_revenue", 2) },
        { label: "% of optimal", format: num("pct_of_optimal", 2) },
      ];
      if (rows.some((r) => isNumber(r.revenue_per_mw_year))) {
        columns.push({ label: "MXN per MW-year", format: num("revenue_per_mw_year", 0) });
      }
      columns.push(
        { label: "discharged (MWh)", format: num("energy_discharged", 1) },
        { label: "cycles", format: num("cycles", 2) },
        { label: "runtime (ms)", format: num("runtime_ms", 1) },
      );
      const compare = el("section", { className: "panel", id: "comparison" }, [
        el("h2", { text: "Strategy comparison" }),
        table(columns, rows, (r) => (r.strategy === result.strategy ? "current" : null)),
      ]);
      container.append(compare);
    }

    let dayPlot = null;
    function drawDay() {
      if (dayPlot) dayPlot.destroy();
      const day = days[dates.indexOf(current)];
      dayPlot = dayChart(dayPanel.body, day, battery);
      dayNote.textContent = `revenue ${fmt(day.revenue, 2)} MXN · charged ${fmt(day.energy_charged, 1)} MWh · discharged ${fmt(day.energy_discharged, 1)} MWh`;
    }
    picker.addEventListener("change", () => {
      current = picker.value;
      drawDay();
      if (options.onDayChange) options.onDayChange(current);
    });
    drawDay();

    charts.push(cumulativeChart(cumPanel.body, result, data.strategies));
    const shown = 1 + Object.keys(data.strategies || {}).filter((n) => n !== result.strategy).length;
    cumNote.textContent = shown > 1 ? `${shown} strategies` : "only the strategy that was run";

    const months = monthlyRows(result);
    charts.push(categoryBars(monthPanel.body, months.map((m) => m.month), months.map((m) => m.revenue), {
      xLabel: "month", label: "revenue (MXN)", unit: "MXN", colour: "#0b6e4f",
    }));

    // 24 columns, 25 when a day has a repeated clock hour (hour 24)
    const cols = Math.max(24, ...days.map((d) => d.schedule.length));
    const signed = new Float64Array(days.length * cols).fill(NaN);
    const prices = new Float64Array(days.length * cols).fill(NaN);
    let maxPower = 0, pMin = Infinity, pMax = -Infinity;
    days.forEach((d, r) => {
      for (const h of d.schedule) {
        if (h.hour < 0 || h.hour >= cols) continue;
        const v = h.action === "charge" ? -h.power : h.action === "discharge" ? h.power : 0;
        signed[r * cols + h.hour] = v;
        prices[r * cols + h.hour] = h.price;
        maxPower = Math.max(maxPower, Math.abs(v));
        pMin = Math.min(pMin, h.price);
        pMax = Math.max(pMax, h.price);
      }
    });
    heatmap(dispatchPanel.body, dates, signed, (v) => dispatchColour(v, maxPower), cols,
      (v) => (!isNumber(v) ? "no hour" : v > 0 ? `discharge ${fmt(v, 2)} MW` : v < 0 ? `charge ${fmt(-v, 2)} MW` : "idle"));
    const span = pMax - pMin || 1;
    pricePanel.body.before(legendBar(fmt(pMin, 0), fmt(pMax, 0) + " MXN/MWh", (t) => ramp(VIRIDIS, t)));
    heatmap(pricePanel.body, dates, prices, (v) => (isNumber(v) ? ramp(VIRIDIS, (v - pMin) / span) : [240, 242, 245]), cols,
      (v) => (isNumber(v) ? `${fmt(v, 2)} MXN/MWh` : "no hour"));

    container._battery = { charts, dayPlot: () => dayPlot };
    return { day: () => current };
  }

  function destroy(container) {
    const state = container._battery;
    if (state) {
      for (const chart of state.charts) if (chart) chart.destroy();
      const day = state.dayPlot();
      if (day) day.destroy();
    }
    container._battery = null;
    container.replaceChildren();
  }

  /* ---------- sizing and siting ---------- */

  function renderSizing(container, body) {
    destroy(container);
    const rows = body.rows || [];
    const chartPanel = panel("Revenue and marginal revenue per MWh-year against duration", "chart-sizing");
    container.append(el("p", { className: "meta", text: `${(body.market || {}).zone || ""} · ${fmt(body.capacity_mw, 1)} MW · strategy ${body.strategy}` }));
    container.append(chartPanel.node);
    const xs = rows.map((r) => r.duration_hours);
    const charts = [linesChart(chartPanel.body, xs, [
      { label: "revenue per MWh-year", colour: "#0b6e4f", values: rows.map((r) => r.revenue_per_mwh_year) },
      { label: "marginal revenue per MWh-year", colour: "#e07b00", values: rows.map((r) => (isNumber(r.marginal_revenue_per_mwh_year) ? r.marginal_revenue_per_mwh_year : null)) },
    ], { xLabel: "duration (h)", unit: "MXN/MWh-yr" })];
    container.append(el("section", { className: "panel", id: "sizing-table" }, [table([
      { label: "duration (h)", format: num("duration_hours", 2) },
      { label: "energy (MWh)", format: num("energy_mwh", 1) },
      { label: "revenue (MXN)", format: num("total_revenue", 0) },
      { label: "MXN per MW-year", format: num("revenue_per_mw_year", 0) },
      { label: "MXN per MWh-year", format: num("revenue_per_mwh_year", 0) },
      { label: "marginal MXN per MWh-year", format: num("marginal_revenue_per_mwh_year", 0) },
      { label: "cycles", format: num("cycles", 1) },
      { label: "% of TB", format: num("pct_of_tb", 1) },
    ], rows)]));
    container._battery = { charts, dayPlot: () => null };
  }

  function renderSiting(container, body) {
    destroy(container);
    const rows = body.rows || [];
    const chartPanel = panel("Revenue per MW-year by zone", "chart-siting");
    container.append(chartPanel.node);
    rankedBars(chartPanel.body, rows.map((r) => r.zone), rows.map((r) => r.revenue_per_mw_year), "MXN/MW-yr");
    container.append(el("section", { className: "panel", id: "siting-table" }, [table([
      { label: "rank", format: (r) => String(r.rank) },
      { label: "zone", format: (r) => r.zone, text: true },
      { label: "system", format: (r) => r.system || "", text: true },
      { label: "revenue (MXN)", format: num("total_revenue", 0) },
      { label: "MXN per MW-year", format: num("revenue_per_mw_year", 0) },
      { label: "mean price", format: num("price_mean", 1) },
      { label: "TB4 spread", format: num("tb4_spread_mean", 1) },
      { label: "% of TB", format: num("pct_of_tb", 1) },
      { label: "cycles", format: num("cycles", 1) },
      { label: "forecast % of optimal", format: num("forecast_pct_of_optimal", 1) },
    ], rows)]));
    const failed = body.failed || [];
    if (failed.length) {
      container.append(el("section", { className: "panel problem", id: "siting-failed" }, [
        el("strong", { text: `${failed.length} zone(s) without prices` }),
        el("ul", {}, failed.map((f) => el("li", { text: `${f.zone}: ${f.status} ${f.detail || ""}` }))),
      ]));
    }
    container._battery = { charts: [], dayPlot: () => null };
  }

  const palette = {
    price: PRICE_COLOUR, charge: CHARGE_COLOUR, discharge: DISCHARGE_COLOUR, soc: SOC_COLOUR,
    strategies: COLOURS, bars: "#0b6e4f", sizing: ["#0b6e4f", "#e07b00"],
  };
  global.BatteryCharts = {
    renderResults, renderSizing, renderSiting, kpiTiles, monthlyRows, destroy, palette,
  };
})(window);
