/* Accessibility fixes the page's HTML cannot make (_ext/book_offline.py loads this on every page).
 *
 * ipywidgets' sliders (noUiSlider) draw a handle with role="slider" and no accessible name; the
 * widget's description is a <label> that names nothing (axe: aria-input-field-name, serious).
 * Each handle is named by its widget's label (aria-labelledby), as soon as the widget is drawn:
 * widgets render after the page has loaded, and redraw. A slider without a description stays
 * unnamed, and the browser test reports it: give it description= in the code that makes it.
 */
(function () {
  "use strict";
  var count = 0;

  function nameSliderHandles(root) {
    var handles = root.querySelectorAll(
      '.widget-slider [role="slider"]:not([aria-label]):not([aria-labelledby])');
    handles.forEach(function (handle) {
      var widget = handle.closest(".widget-slider");
      var label = widget && widget.querySelector(":scope > label.widget-label");
      if (!label || !label.textContent.trim()) return;
      if (!label.id) label.id = "book-widget-label-" + (++count);
      handle.setAttribute("aria-labelledby", label.id);
    });
  }

  var pending = false;
  var observer = new MutationObserver(function () {
    if (pending) return;
    pending = true;
    // Once per batch of changes (a widget adds many nodes at a time).
    Promise.resolve().then(function () { pending = false; nameSliderHandles(document); });
  });
  observer.observe(document.documentElement, {childList: true, subtree: true});
})();
