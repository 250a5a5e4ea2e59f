// Refreshes a live page every second without a reload: the page is fetched
// again and its <main> swapped in, so the server renders everything and
// the page reads the same without this script.
(function () {
  var main = document.getElementById("main");
  if (!main || !main.dataset.live) return;
  function tick() {
    fetch(location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var next = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        if (next && next.innerHTML !== main.innerHTML) main.innerHTML = next.innerHTML;
      })
      .catch(function () {})
      .finally(function () { setTimeout(tick, 1000); });
  }
  setTimeout(tick, 1000);
})();
