// Live updates of a flow page: node rows, counts and diagram colours follow the flow through
// server-sent events. The page works without this script (it has a refresh link); the server
// sends at most one batch of changes per second, and the browser reconnects no sooner than
// the "retry" the server sets (two seconds).
(function () {
  "use strict";
  var root = document.getElementById("flow");
  if (!root || !window.EventSource || !window.JSON) {
    return;
  }
  var rows = document.getElementById("node-rows");
  var live = document.getElementById("live");
  var source = new EventSource(root.getAttribute("data-events"));

  function setText(id, text) {
    var element = document.getElementById(id);
    if (element) {
      element.textContent = text;
    }
  }

  function rowFrom(html) {
    // The server renders the row with its template (every value escaped).
    var holder = document.createElement("tbody");
    holder.innerHTML = html;
    return holder.firstElementChild;
  }

  function onNode(event) {
    var data = JSON.parse(event.data);
    var fresh = rowFrom(data.html);
    if (!fresh) {
      return;
    }
    var current = document.getElementById("row-" + data.node_id);
    if (current) {
      if (current.getAttribute("data-sig") === fresh.getAttribute("data-sig")) {
        return;
      }
      current.parentNode.replaceChild(fresh, current);
    } else {
      var empty = rows.querySelector(".empty-row");
      if (empty) {
        empty.parentNode.removeChild(empty);
      }
      rows.appendChild(fresh);
    }
  }

  function onFlow(event) {
    var data = JSON.parse(event.data);
    var badge = document.getElementById("flow-status");
    if (badge) {
      badge.textContent = data.status;
      badge.className = "badge " + data.status;
    }
    root.setAttribute("data-status", data.status);
    setText("count-running", String(data.counts.running));
    setText("count-succeeded", String(data.counts.succeeded));
    setText("count-failed", String(data.counts.failed));
    setText("flow-duration", data.duration);
    Object.keys(data.names).forEach(function (name) {
      var group = document.getElementById("node-" + name);
      if (group) {
        group.setAttribute("data-status", data.names[name]);
      }
    });
  }

  function stop() {
    source.close();
    if (live) {
      live.hidden = true;
    }
  }

  source.addEventListener("open", function () {
    if (live) {
      live.hidden = false;
    }
  });
  source.addEventListener("node", onNode);
  source.addEventListener("flow", onFlow);
  source.addEventListener("end", stop);
  source.addEventListener("gone", stop);
})();
