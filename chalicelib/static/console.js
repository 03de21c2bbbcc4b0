// The console's only script, and only an enhancement: every action works without it.
// - ▷ opens the request's <dialog> (the link goes to the confirmation page without JavaScript);
// - a running request's row refreshes itself until it is no longer in progress.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-action=execute][aria-controls]");
    if (!link) { return; }
    var dialog = document.getElementById(link.getAttribute("aria-controls"));
    if (!dialog || typeof dialog.showModal !== "function") { return; }
    event.preventDefault();
    dialog.showModal();
  });

  function refresh(row) {
    var url = row.getAttribute("data-refresh");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var holder = document.createElement("tbody");
        holder.innerHTML = html.trim();
        var fresh = holder.querySelector("tr[data-request-id]");
        if (!fresh) { return; }
        row.replaceWith(fresh);
        if (fresh.hasAttribute("data-refresh")) { schedule(fresh); }
      })
      .catch(function () { schedule(row); });
  }

  function schedule(row) { window.setTimeout(function () { refresh(row); }, 2000); }

  document.querySelectorAll("tr[data-refresh]").forEach(schedule);
})();
