// The Draw page's canvas (a Streamlit v2 component). A stroke is drawn here in the browser; on release the
// picture (or null, once cleared) goes to the server's answer route, and its reply is put on screen at once:
// the answer above the canvas, and the new HTML of the page's live panels (keyed containers of one st.html
// each: the notes, the bars, and the sections named in data.sections while on screen). No script run: the
// server keeps the drawing for the session's next run. Without a route (url null), or if it fails, the
// drawing goes to the page, whose own run answers instead. Given a picture to restore (the page was left and
// opened again), a canvas that has not drawn yet shows it as one undoable layer and posts it like a stroke.
export default function (component) {
  const { parentElement, data, setStateValue } = component;
  const root = parentElement.querySelector(".mv-draw");
  let st = root.__mv;
  if (!st) {
    st = root.__mv = { strokes: [], undone: [], seq: 0, mount: Math.random().toString(36).slice(2) };
    const canvas = root.querySelector("canvas");
    const ctx = canvas.getContext("2d");
    const answer = root.querySelector("[data-mv-answer]");
    const paint = st.paint = () => {
      ctx.fillStyle = "#000";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.strokeStyle = "#fff";
      ctx.fillStyle = "#fff";
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      for (const s of st.strokes) {
        if (s.image) {  // a restored picture
          ctx.drawImage(s.image, 0, 0, canvas.width, canvas.height);
          continue;
        }
        const [x0, y0] = s.points[0];
        if (s.points.length === 1) {  // a click: a dot as wide as the pen
          ctx.beginPath();
          ctx.arc(x0, y0, s.width / 2, 0, 2 * Math.PI);
          ctx.fill();
          continue;
        }
        ctx.lineWidth = s.width;
        ctx.beginPath();
        ctx.moveTo(x0, y0);
        for (const [x, y] of s.points.slice(1)) ctx.lineTo(x, y);
        ctx.stroke();
      }
      root.querySelector("[data-mv-undo]").disabled = st.strokes.length === 0;
      root.querySelector("[data-mv-redo]").disabled = st.undone.length === 0;
    };
    const show = st.show = (digit, sure) => {
      answer.querySelector(".mv-digit").textContent = digit;
      answer.querySelector(".mv-sure").textContent = sure;
      answer.classList.toggle("mv-empty", digit === "");
    };
    // The sections on screen as the page's probe counts them (pages/on_screen.py: their top 60 px in view),
    // kept by an observer: asking for their boxes at each stroke would make the browser lay the page out first.
    // (Watched from each run's call of this function, and at each stroke: no timer outlives the page.)
    const shown = new Set();
    const io = new IntersectionObserver((entries) => {
      for (const e of entries) {
        const key = [...e.target.classList].find((c) => c.startsWith("st-key-")).slice(7);
        if (e.isIntersecting) shown.add(key); else shown.delete(key);
      }
    }, { rootMargin: "0px 0px -60px 0px" });
    const watched = new Set();
    st.watch = () => {
      for (const k of st.sections || []) {
        const el = document.querySelector(".st-key-" + CSS.escape(k));
        if (el && !watched.has(el)) { watched.add(el); io.observe(el); }
      }
    };
    const onScreen = () => (st.sections || []).filter((k) => shown.has(k));
    const put = (panels) => {
      for (const [k, html] of Object.entries(panels || {})) {
        const el = document.querySelector(".st-key-" + CSS.escape(k) + ' [data-testid="stHtml"]');
        if (el) el.innerHTML = html;
      }
    };
    const send = st.send = async () => {
      const seq = ++st.seq;
      st.watch();
      const png = st.strokes.length ? canvas.toDataURL("image/png") : null;
      if (st.url) {
        try {
          const r = await fetch(st.url, {
            method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ token: st.token, png, seq, mount: st.mount, want: onScreen() }),
          });
          if (r.ok) {
            const a = await r.json();
            if (seq !== st.seq) return;  // drawn on since: that stroke sends its own
            show(a.digit === null ? "" : String(a.digit), a.digit === null ? "" : a.sure);
            await new Promise((go) => setTimeout(go, 0));  // the answer first; the panels in a task of their own
            if (seq !== st.seq) return;
            put(a.panels);
            root.dataset.mvPanels = String(seq);  // done: what the stroke changes is on screen
            return;
          }
        } catch (e) { /* no route (offline, another server): the page's run answers */ }
      }
      if (seq !== st.seq) return;
      show("", "");
      setStateValue("drawing", png === null ? null : { png, seq, answered: null });
    };
    let live = null;
    const at = (e) => {
      const b = canvas.getBoundingClientRect();
      return [(e.clientX - b.left) * canvas.width / b.width, (e.clientY - b.top) * canvas.height / b.height];
    };
    canvas.addEventListener("pointerdown", (e) => {
      if (e.button !== 0 && e.pointerType === "mouse") return;
      canvas.setPointerCapture(e.pointerId);
      live = { width: st.width, points: [at(e)] };
      st.strokes.push(live);
      st.undone = [];
      paint();
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!live) return;
      for (const ev of (e.getCoalescedEvents ? e.getCoalescedEvents() : [e])) live.points.push(at(ev));
      paint();
    });
    const end = () => {
      if (!live) return;
      live = null;
      send();
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    root.querySelector("[data-mv-undo]").addEventListener("click", () => {
      if (!st.strokes.length) return;
      st.undone.push(st.strokes.pop());
      paint();
      send();
    });
    root.querySelector("[data-mv-redo]").addEventListener("click", () => {
      if (!st.undone.length) return;
      st.strokes.push(st.undone.pop());
      paint();
      send();
    });
    root.querySelector("[data-mv-reset]").addEventListener("click", () => {
      st.strokes = [];
      st.undone = [];
      paint();
      send();
    });
    paint();
  }
  st.token = data.token;
  st.url = data.url;
  st.width = data.width;
  st.sections = data.sections;
  st.watch();
  const switched = st.model !== undefined && st.model !== data.model;
  st.model = data.model;
  if (data.restore && !st.restoring && st.seq === 0 && !st.strokes.length && !st.undone.length) {
    st.restoring = true;
    const picture = new Image();
    picture.onload = () => {
      st.strokes.unshift({ image: picture });  // under any stroke drawn while it loaded
      st.paint();
      st.send();
    };
    picture.src = data.restore;
  }
  if (switched && st.strokes.length) {  // another model now reads the drawing: ask it, showing no stale answer
    st.show("", "");
    st.send();
  }
}
