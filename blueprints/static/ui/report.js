/* Boots the self-contained HTML report: draws the results inlined in #report-data. */
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const market = data.result.market || {};
  document.title = `Battery arbitrage: ${market.zone || "inline prices"} ${market.start_date || ""}..${market.end_date || ""}`;
  document.getElementById("report-generated").textContent = data.generated ? "generated " + data.generated : "";
  try {
    BatteryCharts.renderResults(document.getElementById("results"), data, {});
    document.body.dataset.state = "ready";
  } catch (error) {
    document.body.dataset.state = "error";
    throw error;
  }
})();
