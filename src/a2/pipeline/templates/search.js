// Offline search: every word typed must occur in a section's text; the
// index (search-index.js, written by the build) lists sections by heading.
(function () {
  const box = document.getElementById("search");
  const list = document.getElementById("search-results");
  if (!box || !list || !window.A2_SEARCH) return;
  box.addEventListener("input", function () {
    const words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    list.replaceChildren();
    if (!words.length) return;
    const hits = window.A2_SEARCH.filter(function (e) {
      const text = (e.t + " " + e.x).toLowerCase();
      return words.every(function (w) { return text.includes(w); });
    }).slice(0, 12);
    for (const e of hits) {
      const a = document.createElement("a");
      a.href = e.p + (e.i ? "#" + e.i : "");
      a.textContent = e.t;
      const li = document.createElement("li");
      li.appendChild(a);
      list.appendChild(li);
    }
    if (!hits.length) {
      const li = document.createElement("li");
      li.textContent = "no match";
      list.appendChild(li);
    }
  });
})();
