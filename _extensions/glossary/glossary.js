/* Glossary popups (markup produced by glossary.lua):
 *
 *   <span class="glossary-term">
 *     <button class="glossary-toggle" aria-expanded="false"
 *             aria-controls="glossary-popup-N" aria-describedby="glossary-def-N">IoU</button>
 *     <span class="glossary-popup" id="glossary-popup-N" hidden>
 *       ... <span id="glossary-def-N">definition</span> <a href="...">Open in the glossary</a>
 *     </span>
 *   </span>
 *
 * Opens on keyboard focus, on click/tap (toggles) and, for a mouse, on hover;
 * closes with Escape (focus returns to the term), on a click/tap elsewhere, and
 * when keyboard focus leaves the term. Hover is an extra, never the only way.
 */
(function () {
  "use strict";

  var root = document.documentElement;
  root.classList.add("glossary-js");

  var lastPointerDown = 0;
  var hoverTimer = null;
  var suppressFocusOpen = null; // the term Escape is returning focus to

  function closest(el, selector) {
    while (el && el.nodeType === 1) {
      if (el.matches(selector)) return el;
      el = el.parentElement;
    }
    return null;
  }

  function popupOf(btn) {
    return document.getElementById(btn.getAttribute("aria-controls"));
  }

  function isOpen(btn) {
    return btn.getAttribute("aria-expanded") === "true";
  }

  function place(btn, pop) {
    pop.style.left = "";
    pop.style.top = "";
    pop.style.bottom = "";
    var margin = 8;
    var vw = document.documentElement.clientWidth || window.innerWidth;
    var vh = window.innerHeight;
    var rect = pop.getBoundingClientRect();
    var shift = 0;
    if (rect.right > vw - margin) shift = vw - margin - rect.right;
    if (rect.left + shift < margin) shift = margin - rect.left;
    if (shift !== 0) pop.style.left = shift + "px";
    var b = btn.getBoundingClientRect();
    if (rect.bottom > vh - margin && b.top - rect.height - margin > 0) {
      pop.style.top = "auto";
      pop.style.bottom = "calc(100% + 0.35rem)";
    }
  }

  function open(btn, via) {
    var pop = popupOf(btn);
    if (!pop) return;
    closeAll(btn);
    btn.setAttribute("aria-expanded", "true");
    btn.setAttribute("data-glossary-via", via);
    pop.hidden = false;
    place(btn, pop);
  }

  function close(btn) {
    var pop = popupOf(btn);
    btn.setAttribute("aria-expanded", "false");
    btn.removeAttribute("data-glossary-via");
    if (pop) pop.hidden = true;
  }

  function closeAll(except) {
    var open = document.querySelectorAll('.glossary-toggle[aria-expanded="true"]');
    for (var i = 0; i < open.length; i++) {
      if (open[i] !== except) close(open[i]);
    }
  }

  function toggleOf(wrapper) {
    return wrapper ? wrapper.querySelector(".glossary-toggle") : null;
  }

  document.addEventListener("pointerdown", function () {
    lastPointerDown = Date.now();
  }, true);

  document.addEventListener("click", function (event) {
    var btn = closest(event.target, ".glossary-toggle");
    if (btn) {
      if (isOpen(btn) && btn.getAttribute("data-glossary-via") === "click") {
        close(btn);
      } else {
        open(btn, "click");
      }
      return;
    }
    if (!closest(event.target, ".glossary-popup")) closeAll(null);
  });

  document.addEventListener("focusin", function (event) {
    var btn = closest(event.target, ".glossary-toggle");
    // a focus caused by a mouse press or a tap is handled by "click"
    if (btn && btn === suppressFocusOpen) return;
    if (btn && !isOpen(btn) && Date.now() - lastPointerDown > 600) {
      open(btn, "focus");
    }
  });

  document.addEventListener("focusout", function (event) {
    var wrapper = closest(event.target, ".glossary-term");
    if (!wrapper) return;
    window.setTimeout(function () {
      var btn = toggleOf(wrapper);
      if (!btn || !isOpen(btn)) return;
      if (btn.getAttribute("data-glossary-via") !== "focus") return;
      if (!wrapper.contains(document.activeElement)) close(btn);
    }, 0);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" && event.key !== "Esc") return;
    var open = document.querySelectorAll('.glossary-toggle[aria-expanded="true"]');
    if (!open.length) return;
    for (var i = 0; i < open.length; i++) {
      var btn = open[i];
      var wrapper = closest(btn, ".glossary-term");
      var hadFocus = wrapper && wrapper.contains(document.activeElement);
      if (hadFocus && document.activeElement !== btn) {
        // Focus is on the link inside the popup. Move it back to the term
        // *before* closing: "focusin" only opens a closed popup, so this
        // focus does not reopen it (closing first and then focusing the term
        // used to reopen the popup at once, as if the term had been tabbed
        // to). The guard covers browsers that deliver the focus late.
        suppressFocusOpen = btn;
        btn.focus();
        window.setTimeout(function () { suppressFocusOpen = null; }, 0);
      }
      close(btn);
    }
  });

  // Mouse hover as a convenience (touch and pen use tap).
  document.addEventListener("pointerover", function (event) {
    if (event.pointerType !== "mouse") return;
    var wrapper = closest(event.target, ".glossary-term");
    if (!wrapper) return;
    window.clearTimeout(hoverTimer);
    var btn = toggleOf(wrapper);
    if (btn && !isOpen(btn)) open(btn, "hover");
  });

  document.addEventListener("pointerout", function (event) {
    if (event.pointerType !== "mouse") return;
    var wrapper = closest(event.target, ".glossary-term");
    if (!wrapper || (event.relatedTarget && wrapper.contains(event.relatedTarget))) return;
    var btn = toggleOf(wrapper);
    if (!btn || btn.getAttribute("data-glossary-via") !== "hover") return;
    window.clearTimeout(hoverTimer);
    hoverTimer = window.setTimeout(function () {
      if (btn.getAttribute("data-glossary-via") === "hover") close(btn);
    }, 300);
  });
})();
