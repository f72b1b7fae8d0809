// The Draw page's canvas (a Streamlit v2 component). A stroke is drawn here in the browser; on release the
// picture goes to the server's answer route and the answer is shown at once, then the drawing goes to the
// page (whose run redraws the steps and the network's view). Without a route (url null), or if it fails,
// the page's own run answers instead. Given a picture to restore (the page was left and opened again), a
// canvas that has not drawn yet shows it as one undoable layer and hands it over like a stroke.
export default function (component) {
  const { parentElement, data, setStateValue } = component;
  const root = parentElement.querySelector(".mv-draw");
  let st = root.__mv;
  if (!st) {
    st = root.__mv = { strokes: [], undone: [], seq: 0 };
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
    const send = st.send = async () => {
      const seq = ++st.seq;
      if (st.strokes.length === 0) {
        show("", "");
        setStateValue("drawing", null);
        return;
      }
      const png = canvas.toDataURL("image/png");
      let answered = null;  // the model that answered, as the page named it
      const model = st.model;
      if (st.url) {
        try {
          const r = await fetch(st.url, {
            method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ token: st.token, png }),
          });
          if (r.ok) {
            const a = await r.json();
            if (seq !== st.seq) return;  // drawn on since: that stroke sends its own
            if (a.digit !== null) { show(String(a.digit), a.sure); answered = model; }
          }
        } catch (e) { /* no route (offline, another server): the page's run answers */ }
      }
      if (seq !== st.seq) return;
      if (answered === null) show("", "");
      setStateValue("drawing", { png, seq, answered });
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
