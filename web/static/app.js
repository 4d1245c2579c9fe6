// ecgread web: highlight a statement's evidence on the tracing while it is hovered or
// focused, and the statements of an evidence box while the box is hovered. No libraries.
(function () {
  "use strict";
  function numbersOf(box) {
    return (box.getAttribute("data-statements") || "").split(",").filter(Boolean);
  }
  function setup() {
    var items = document.querySelectorAll("ol.statements > li[data-n]");
    var boxes = document.querySelectorAll(".tracing-box rect.ev");
    if (!items.length || !boxes.length) { return; }
    function show(n) {
      boxes.forEach(function (b) {
        var on = n !== null && numbersOf(b).indexOf(n) >= 0;
        b.classList.toggle("hot", on);
        b.classList.toggle("dim", n !== null && !on);
      });
      items.forEach(function (li) { li.classList.toggle("hot", li.getAttribute("data-n") === n); });
    }
    items.forEach(function (li) {
      var n = li.getAttribute("data-n");
      li.addEventListener("mouseenter", function () { show(n); });
      li.addEventListener("focus", function () { show(n); });
      li.addEventListener("mouseleave", function () { show(null); });
      li.addEventListener("blur", function () { show(null); });
    });
    boxes.forEach(function (b) {
      b.addEventListener("mouseenter", function () {
        var nums = numbersOf(b);
        items.forEach(function (li) { li.classList.toggle("hot", nums.indexOf(li.getAttribute("data-n")) >= 0); });
      });
      b.addEventListener("mouseleave", function () { show(null); });
    });
  }
  document.addEventListener("DOMContentLoaded", setup);
})();
