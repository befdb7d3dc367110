// Live updates of the referral inbox: server-sent events (fed by the GraphQL subscription
// referralInbox) say that something changed; the list is then fetched again from the server,
// rendered as the page renders it. No data travels in the events themselves.
(function () {
  "use strict";
  var list = document.querySelector("[data-live-src]");
  if (!list || !window.EventSource || !window.fetch) {
    return;
  }
  var status = document.getElementById("live-status");
  var last = null;
  function refresh(announce) {
    fetch(list.getAttribute("data-list-src"), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) {
          return;
        }
        if (last === null || html !== last) {
          list.innerHTML = html;
          if (last !== null && announce && status) {
            status.textContent = "Der Eingang wurde aktualisiert.";
          }
        }
        last = html;
      })
      .catch(function () { /* the next event or reconnect tries again */ });
  }
  var source = new EventSource(list.getAttribute("data-live-src"));
  source.onopen = function () { refresh(true); };
  source.onmessage = function () { refresh(true); };
  source.onerror = function () {
    // closed for good (not reconnecting): the server said no (429: too many open windows;
    // an ended session answers with the sign-in page instead of the stream)
    if (source.readyState === EventSource.CLOSED && status) {
      status.textContent = "Die Live-Aktualisierung ist in diesem Fenster aus (zu viele " +
        "offene Fenster, oder die Sitzung ist abgelaufen). Laden Sie die Seite neu, um sie " +
        "wieder einzuschalten.";
    }
  };
})();
