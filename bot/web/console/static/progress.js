// Refreshes an announcement's delivery counts every 2 seconds while it is being delivered.
// The page works without it: the counts are in the HTML and "Refresh" reloads them.
(function () {
  "use strict";
  var table = document.querySelector("[data-progress]");
  if (!table || !window.fetch) { return; }
  var url = table.getAttribute("data-progress");
  var summary = document.getElementById("summary");
  var meter = document.getElementById("meter");
  var template = summary ? summary.textContent.replace(/\d+/g, "#") : "";
  function show(data) {
    var cells = table.querySelectorAll("[data-state]");
    for (var i = 0; i < cells.length; i++) {
      var state = cells[i].getAttribute("data-state");
      if (state in data) { cells[i].textContent = String(data[state]); }
    }
    if (meter) { meter.max = data.total || 1; meter.value = data.sent; }
    if (summary) {
      var n = 0;
      summary.textContent = template.replace(/#/g, function () {
        n += 1;
        return String(n === 1 ? data.sent : data.total);
      });
    }
  }
  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        show(data);
        var open = data.pending + data.retrying + (data.claimed || 0);
        if (data.status === "scheduled" || open > 0 || data.total === 0) {
          window.setTimeout(poll, 2000);
        }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
