// privacy-desk's embedding snippet: each <iframe data-privacy-desk> takes the height its page reports.
// A message counts only from that iframe's own window and origin, so no other frame or site can resize it.
(function () {
  "use strict";
  function frames() { return document.querySelectorAll("iframe[data-privacy-desk]"); }
  function fit(frame) { frame.style.width = "100%"; frame.style.border = "0"; }
  window.addEventListener("message", function (event) {
    var list = frames();
    for (var i = 0; i < list.length; i++) {
      var frame = list[i];
      if (event.source !== frame.contentWindow) continue;
      if (event.origin !== new URL(frame.src, location.href).origin) return;
      var data = event.data;
      if (data && data.privacyDesk === "height" && typeof data.height === "number" && data.height > 0 &&
          data.height < 100000) {
        fit(frame);
        frame.style.height = Math.ceil(data.height) + "px";
      }
    }
  });
  Array.prototype.forEach.call(frames(), fit);
})();
