// Tells the page framing this one how tall it is, so its <iframe> follows the content (embed.js there).
// Sent only to the origins the team listed: postMessage drops it for any other framing page.
(function () {
  "use strict";
  if (window.parent === window) return;
  var origins = (document.documentElement.getAttribute("data-embed-origins") || "").split(" ").filter(Boolean);
  function send() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    origins.forEach(function (origin) {
      window.parent.postMessage({privacyDesk: "height", height: height}, origin);
    });
  }
  if (window.ResizeObserver) new ResizeObserver(send).observe(document.documentElement);
  window.addEventListener("load", send);
  document.addEventListener("toggle", send, true);  // a right's <details> opened or closed
})();
