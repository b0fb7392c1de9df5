// Offline search: every word typed must occur in a section's text; the
// index (search-index.js, written by the build) lists sections by heading
// with their page's title. A hit shows its page, heading and a snippet.
(function () {
  const box = document.getElementById("search");
  const list = document.getElementById("search-results");
  if (!box || !list || !window.A2_SEARCH) return;

  function snippet(text, word) {
    const at = Math.max(0, text.toLowerCase().indexOf(word) - 40);
    return (at > 0 ? "…" : "") + text.slice(at, at + 110) + "…";
  }

  box.addEventListener("input", function () {
    const words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    list.replaceChildren();
    if (!words.length) return;
    const hits = window.A2_SEARCH.filter(function (e) {
      const text = (e.pt + " " + e.t + " " + e.x).toLowerCase();
      return words.every(function (w) { return text.includes(w); });
    }).slice(0, 12);
    for (const e of hits) {
      const a = document.createElement("a");
      a.href = e.p + (e.i ? "#" + e.i : "");
      a.textContent = e.t || e.pt;
      const where = document.createElement("span");
      where.className = "search-page";
      where.textContent = e.pt;
      const text = document.createElement("span");
      text.className = "search-snippet";
      text.textContent = snippet(e.x, words[0]);
      const li = document.createElement("li");
      li.append(where, a, text);
      list.appendChild(li);
    }
    if (!hits.length) {
      const li = document.createElement("li");
      li.textContent = "no match";
      list.appendChild(li);
    }
  });
})();
