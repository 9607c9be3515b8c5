/* The book's explorables (relucourse/explorables.py): each page shows the static figure
   first; Vega, Vega-Lite and vega-embed (this site's _static/relucourse-vega, never a CDN)
   load only when the reader comes near an explorable (or moves the keyboard focus into
   it), and the interactive chart is drawn in place of the static one. Copied next to
   them as _static/relucourse-vega/loader.js and added to the pages that have an
   explorable by tools/sphinxext/vega.py (not in _static/, whose scripts Jupyter Book
   adds to every page). */
(() => {
  "use strict";
  const here = document.currentScript.src;
  const files = ["vega.min.js", "vega-lite.min.js", "vega-embed.min.js"];
  let vega = null;  // one promise: the three scripts, in order

  const script = (src) => new Promise((resolve, reject) => {
    const el = document.createElement("script");
    el.src = src;
    el.onload = resolve;
    el.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(el);
  });
  const loadVega = () => vega || (vega = files.reduce(
    (done, name) => done.then(() => script(new URL(name, here).href)),
    Promise.resolve()));

  const draw = (box) => {
    if (box.dataset.state) return;
    box.dataset.state = "loading";
    const spec = JSON.parse(box.querySelector("script.relucourse-spec").textContent);
    const target = box.querySelector(".relucourse-vega");
    const options = JSON.parse(box.dataset.embed || "{}");
    loadVega()
      .then(() => window.vegaEmbed(target, spec, options))
      .then(() => { box.dataset.state = "live"; })
      .catch((err) => { box.dataset.state = "static"; console.error(err); });
  };

  const start = () => {
    const boxes = [...document.querySelectorAll(".relucourse-explorable")];
    if (!("IntersectionObserver" in window)) { boxes.forEach(draw); return; }
    const seen = new IntersectionObserver((entries) => entries.forEach((e) => {
      if (e.isIntersecting) { seen.unobserve(e.target); draw(e.target); }
    }), {rootMargin: "600px 0px"});
    boxes.forEach((box) => {
      seen.observe(box);
      box.addEventListener("focusin", () => draw(box), {once: true});
    });
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
