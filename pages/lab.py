"""Lab: change the architecture and training, see the shapes at once, train while watching, compare runs.

The lab's state is one ``mnistviz.lab_session.LabSession`` under ``st.session_state["lab"]``; the
training runs on the server's training queue (``mnistviz.jobs``), and this page follows it with a
fragment that reruns every few seconds, so the page and the sidebar keep working meanwhile.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import streamlit as st

from mnistviz import activations, figures, models, replay, userdata
from mnistviz import experiments as ex
from mnistviz.figures import training as lf
from mnistviz.jobs import JobError, JobStatus, TrainRequest, training_data, training_queue
from mnistviz.lab_session import LabSession, TestSplit
from mnistviz.lab_settings import FIELD, SCHEDULE_LABELS, fit_to_data, train_sizes
from mnistviz.models import OPTIMIZER_LABELS
from mnistviz.store import ModelStore
from pages.shared import DATA_SOURCE, current_input, data_caption, dataset, model_shelf, untrained_model

# How often the page asks the queue about the job it follows. Each ask is a fragment run, and every run
# costs the browser a redraw of the page's frame (0.1-0.2 s of its time here, measured): a tab that asked
# every second spent 9-16 % of a core waiting in the queue and 29-37 % following a training.
FOLLOW_EVERY_S = 2.0  # while it trains: the progress bar
WAIT_EVERY_S = 3.0  # while it waits: its place in the queue moves only when a run ends
# How often the curves so far and the kernels are redrawn while a run trains: a Plotly chart costs each
# browser ~0.1 s of script to redraw, which a class's laptops (and a shared server) pay every redraw.
CURVES_EVERY_S = 4.0
REPLAY_FRAME_S = 0.8  # one snapshot per this many seconds when the replay plays
FIRST_PRESET = "course_cnn"  # a plain visit opens on the course text's CNN, exactly as the preset has it


# --- state and callbacks -----------------------------------------------------------------------

def lab_session() -> LabSession:
    """This session's lab, created on the first visit (when the URL may carry settings)."""
    if "lab" not in st.session_state:
        settings, notes = ex.from_query(st.query_params.to_dict())
        plain = not st.query_params
        lab = LabSession(ex.from_preset(FIRST_PRESET, settings) if plain else settings,
                         FIRST_PRESET if plain else "custom")
        if notes:
            lab.link_note = "This link's settings were adjusted to what the lab offers: " + "; ".join(notes) + "."
        st.session_state["lab"] = lab
    return st.session_state["lab"]


def training_request(settings: ex.LabSettings) -> TrainRequest:
    """What the trainer needs. Reads only what this run computed (``TRAIN_SOURCE``, ``DATA_ID``), so
    callbacks can call it before the next run."""
    return TrainRequest(settings.to_config(), settings.to_options(), TRAIN_SOURCE, DATA_ID, digit=digit.image)


def lab_data() -> tuple:
    """``(Dataset, source, data id)`` the lab trains and scores on: the app's data set, or the person's own
    ``.npz`` (split 80/20 with a fixed seed and written into the model store's data folder, so a worker
    on another machine trains on the very same digits; its fingerprint is the data id in the run's key)."""
    app_ds = dataset()
    # the source actually loaded (the sample after a fallback)
    app_source = app_ds.source if app_ds.source in ("keras", "sample") else DATA_SOURCE
    app_id = training_data(DATA_SOURCE)[1]
    ss = st.session_state
    with st.expander("Train on your own digits (.npz)", expanded=ss.get("lab_npz") is not None,
                     icon=":material/upload_file:"):
        st.markdown(f"An `.npz` with `x` of shape (N, 28, 28), uint8 0-255 or float 0-1, bright ink on black as in "
                    f"MNIST, and `y` of shape (N,), labels 0-9; at least {userdata.MIN_TRAIN_DIGITS} digits, at most "
                    f"{userdata.MAX_UPLOAD_BYTES // 2**20} MB. It is split {1 - userdata.VALIDATION_FRACTION:.0%} to "
                    f"train, {userdata.VALIDATION_FRACTION:.0%} held out to score the runs. The Teach page downloads "
                    "your own drawings in this format.")
        up = st.file_uploader("Your digits (.npz)", type=["npz"], key="lab_npz",
                              max_upload_size=userdata.MAX_UPLOAD_BYTES // 2**20)
    if up is None:
        return app_ds, app_source, app_id
    read = ss.get("lab_npz_read")
    # Read each file once, not on every rerun; again if the store's cap has removed the saved set since.
    if read is None or read[0] != up.file_id or (read[1] is not None and not Path(read[1]).exists()):
        try:
            digits = userdata.read_digits(up.getvalue())
            read = (up.file_id, str(userdata.saved_for_training(digits, ModelStore().root)), None)
        except userdata.DigitsError as exc:
            read = (up.file_id, None, f"{up.name}: {exc}")
        ss["lab_npz_read"] = read
    if read[2] is not None:
        st.error(f"{read[2]} The lab keeps training on the app's digits.", icon=":material/error:")
        return app_ds, app_source, app_id
    own, data_id = training_data(read[1])
    st.success(f"Training on your digits from {up.name}: {len(own.x_train):,} to train, {len(own.x_test):,} held "
               "out. Runs on them are scored on the held-out part.", icon=":material/check_circle:")
    return own, read[1], data_id


def _load_preset() -> None:
    lab.preset = st.session_state["lab_preset"]
    if lab.preset == "custom":
        return
    lab.settings = ex.from_preset(lab.preset, lab.settings)
    for name, value in lab.settings.to_dict().items():
        st.session_state[f"lab_w_{name}"] = value


FORMATS = {"kernel1": lambda k: f"{k}×{k}", "batch_size": lambda v: f"{v:,}", "learning_rate": lambda v: f"{v:g}",
           "weight_decay": lambda v: "none" if not v else f"{v:g}",
           "optimizer": OPTIMIZER_LABELS.get, "schedule": SCHEDULE_LABELS.get}
FORMATS["kernel2"] = FORMATS["kernel3"] = FORMATS["kernel1"]


def ctl(where, name: str, **overrides):
    """The widget of setting ``name`` as the table of fields describes it; starts from the session's value."""
    f = FIELD[name]
    key = f"lab_w_{name}"
    if key not in st.session_state:
        st.session_state[key] = VALUES[name]
    kw = {"label": f.label, "key": key, "help": f.help or None}
    if f.widget in ("slider", "number_input"):
        kw.update(min_value=f.kind(f.lo), max_value=f.kind(f.hi))
        if f.step:
            kw["step"] = f.kind(f.step)
    elif f.widget in ("select_slider", "radio", "selectbox"):
        kw.update(options=f.options, format_func=FORMATS.get(name, str))
    if f.widget == "radio":
        kw["horizontal"] = True
    kw.update(overrides)
    VALUES[name] = getattr(where, f.widget)(**kw)
    return VALUES[name]


def show_snapshot(snap: replay.Snapshot, first: replay.Snapshot, key: str) -> None:
    """One moment of a training: the first conv layer's kernels, the followed digit's maps and probabilities."""
    m0, m1, m2 = st.columns([1, 1, 1])
    m0.image(np.kron(snap.digit, np.ones((2, 2))), caption="The digit followed", width=56, clamp=True)
    m1.metric("Held-out accuracy", f"{snap.val_accuracy:.1%}", f"{snap.val_accuracy - first.val_accuracy:+.1%} since the start",
              help=f"On the first {replay.VAL_PROBE} held-out images.")
    pred = int(snap.proba.argmax())
    m2.metric("It reads the digit as", str(pred), f"{snap.proba[pred]:.0%} sure", delta_color="off", delta_arrow="off")
    if snap.kernels:
        st.image(snap.kernels, caption="The first conv layer's kernels (blue negative, red positive, one scale)")
        for name, png in snap.maps:
            st.image(png, caption=f"{name}: the digit's feature maps (each scaled to its own maximum)")
    st.plotly_chart(figures.probability_bars(snap.proba, title="Its probabilities for the digit", height=220),
                    width="stretch", key=f"replay_bars_{key}")


def watch_it_learn(run_key: str) -> None:
    """The finished run's snapshots: a scrubber and a play button, from random filters to trained ones."""
    snaps = replay.read_replay(ModelStore().root, run_key)
    st.subheader("Watch it learn")
    if len(snaps) < 2:
        st.caption("This run has no replay (it was trained before replays were kept, or by a server without them).")
        return
    labels = [s.label for s in snaps]
    ss = st.session_state
    if ss.get("replay_for") != run_key or ss.get("replay_at") not in labels:
        ss["replay_for"], ss["replay_at"], ss["replay_playing"] = run_key, labels[-1], False

    def _play() -> None:
        ss["replay_playing"] = not ss["replay_playing"]
        ss["replay_hold"] = True  # the frame on screen stays for one tick
        if ss["replay_playing"] and ss["replay_at"] == labels[-1]:
            ss["replay_at"] = labels[0]  # play from the start

    ticking = ss["replay_playing"]

    @st.fragment(run_every=REPLAY_FRAME_S if ticking else None)
    def player() -> None:
        if ss["replay_playing"] != ticking:
            st.rerun()  # the whole page, so the fragment starts (or stops) ticking
        if ss["replay_playing"] and not ss.pop("replay_hold", False):  # one step per tick; stop at the end
            i = labels.index(ss["replay_at"])
            if i + 1 < len(labels):
                ss["replay_at"] = labels[i + 1]
            if i + 2 >= len(labels):
                ss["replay_playing"] = False
        p1, p2 = st.columns([1, 6], vertical_alignment="bottom")
        p1.button("Pause" if ss["replay_playing"] else "Play", key="replay_play", on_click=_play,
                  icon=":material/pause:" if ss["replay_playing"] else ":material/play_arrow:")
        p2.select_slider("Moment of the training", labels, key="replay_at",
                         help="Snapshots before the first batch, a few times in the first epoch, and after every epoch.")
        show_snapshot(snaps[labels.index(ss["replay_at"])], snaps[0], "replay")

    st.caption("Before training the kernels are random noise; within the first epoch most of them already turn into "
               "edge and stroke detectors, and the feature maps of the digit sharpen with them.")
    player()


# --- the page ----------------------------------------------------------------------------------

lab = lab_session()
shelf = model_shelf()
section = itertools.count(1)  # sections are numbered as they are shown

st.title("Lab: build, train and compare your own network")
st.markdown(
    "Move the sliders: the table of layers and the feature maps below update at once, before any "
    "training. Then train on a few thousand digits (a quick run takes seconds), watch the curves grow, "
    "and see what the trained model gets wrong. Every run lands in the experiments table so you can "
    "compare, say, an MLP against a CNN, or batch size 32 against 10,000."
)
data_caption()
ds, TRAIN_SOURCE, DATA_ID = lab_data()  # DATA_ID: the fingerprint of the training split
test = TestSplit(ds.x_test, ds.y_test, ds.test_label)
digit = current_input()
if lab.link_note:
    st.warning(lab.link_note, icon=":material/link:")
    lab.link_note = ""

lab.settings, size_note = fit_to_data(lab.settings, len(ds.x_train))
if size_note:
    lab.note("info", size_note + ".")
    st.session_state.pop("lab_w_n_train", None)
VALUES: dict = lab.settings.to_dict()

with st.container(border=True):
    st.subheader(":material/tune: Settings")
    if "lab_preset" not in st.session_state:
        st.session_state["lab_preset"] = lab.preset
    st.selectbox("Start from a course model", ["custom", *models.PRESETS], key="lab_preset", on_change=_load_preset,
                 format_func=lambda k: "(your own settings)" if k == "custom" else models.PRESETS[k].title,
                 help="Loads the model's architecture and training options into the sliders below.")
    if lab.preset != "custom":
        p = models.PRESETS[lab.preset]
        differs = [k for k, v in ex.from_preset(p.key, lab.settings).to_dict().items() if VALUES[k] != v]
        st.caption(f"From the course: {p.source}." + (f" You changed: {', '.join(differs)}." if differs else ""))

    arch, train_col = st.columns([3, 2], gap="large")
    with arch:
        st.markdown("**Architecture**")
        a1, a2 = st.columns(2)
        blocks = ctl(a1, "blocks")
        ctl(a2, "padding")
        a3, a4 = st.columns(2)
        ctl(a3, "conv_activation")
        with a4:
            st.write("")  # line the toggle up with the select box beside it
            ctl(st, "batch_norm")
        if blocks:
            cols = st.columns(ex.MAX_BLOCKS)
            for b in range(1, blocks + 1):
                with cols[b - 1].container(border=True):
                    st.markdown(f"Block {b}")
                    for name in (f"filters{b}", f"kernel{b}", f"convs{b}", f"stride{b}", f"pool{b}"):
                        ctl(st, name)
        d1, d2 = st.columns(2)
        ctl(d1, "dense_layers")
        ctl(d2, "units")
        d3, d4 = st.columns(2)
        ctl(d3, "dropout")
        ctl(d4, "dense_activation")
    with train_col:
        st.markdown("**Training**")
        t1, t2 = st.columns(2)
        ctl(t1, "optimizer")
        ctl(t2, "schedule")
        for name in ("learning_rate", "batch_size", "epochs"):
            ctl(st, name)
        ctl(st, "n_train", options=train_sizes(len(ds.x_train)),
            format_func=lambda n: f"all {len(ds.x_train):,}" if n == 0 else f"{n:,}")
        ctl(st, "augment")
        t3, t4 = st.columns(2)
        ctl(t3, "weight_decay")
        ctl(t4, "seed")

lab.settings = settings = ex.LabSettings(**VALUES)
config, options = settings.to_config(), settings.to_options()
problem = ex.check(settings)

# --- the architecture, live ----------------------------------------------------------------------
st.header(f"{next(section)} · The architecture, as Keras will build it")
if problem:
    st.error(f"**This network cannot be built.** {problem.rstrip('.')}.", icon=":material/block:")
else:
    rows = models.layer_table(config)
    m1, m2, m3 = st.columns(3)
    m1.metric("Parameters", f"{models.count_params(config):,}")
    m2.metric("Layers", len(rows))
    m3.metric("Kind", "CNN" if config.is_cnn else "MLP (no convolutions)")
    st.dataframe(
        [{"layer": r.name, "type": r.kind, "output shape": str(r.batch_shape).replace("None", "None (batch)", 1),
          "parameters": f"{r.params:,}", "how the count is made": r.formula} for r in rows],
        hide_index=True, width="stretch", key="lab_table",
        height=(len(rows) + 1) * 35 + 3,  # the header and every row: no inner scroll hides the last layer
    )
    st.caption("The first axis is the batch: Keras leaves it open (None) so the same model takes one digit or 10,000.")

# --- what the untrained filters see --------------------------------------------------------------
if not problem:
    st.header(f"{next(section)} · Feature maps before training")
    if not config.is_cnn:
        st.info("With 0 conv blocks there are no feature maps: the dense layer reads the 784 pixels directly.")
    else:
        fresh = untrained_model(config)
        conv_stages = [s for s in activations.stages(fresh, digit.image) if s.kind == "Conv2D"]
        who = digit.description[:1].upper() + digit.description[1:]  # "Your drawing", "Test digit #3 (…)"
        st.caption(f"{who} through randomly initialised filters (one tile per filter, bright = strong). Random "
                   "filters already respond to edges and blobs; training makes them useful.")
        cols = st.columns(min(3, len(conv_stages)))
        for i, stage in enumerate(conv_stages):
            cols[i % len(cols)].plotly_chart(
                figures.mosaic(stage.array[0], title=f"{stage.name}: {stage.shape[1]}×{stage.shape[2]}×{stage.shape[3]}",
                               height=320),
                width="stretch", key=f"lab_fresh_{stage.name}")

# --- train ---------------------------------------------------------------------------------------
st.header(f"{next(section)} · Train")
unavailable = ""  # why there is no queue this run: said once, at the top of the section
try:
    queue = training_queue()
except JobError as exc:  # Redis configured but unreachable: the rest of the app keeps working
    queue, unavailable = None, str(exc)
    st.error(f"**Training is unavailable right now.** {exc}", icon=":material/cloud_off:")


def progress_text(status: JobStatus) -> str:
    if status.state == "queued":
        return ("You are next: waiting for a free training slot." if not status.ahead else
                f"Waiting for a free training slot: {status.ahead} run{'s' if status.ahead != 1 else ''} ahead of yours.")
    if not status.steps:
        return "Starting… (building the model; the first batch compiles it)"
    left = "estimating time left…" if status.eta != status.eta else f"about {ex.format_seconds(status.eta)} left"
    return (f"Epoch {status.epoch + 1}/{status.epochs} · batch {status.batch + 1}/{status.steps} · "
            f"{ex.format_seconds(status.elapsed)} elapsed · {left}")


def follow_job(waiting: bool) -> None:
    """Asks the queue where the job is and draws it, at the pace of a waiting or a training job; redraws the
    whole page once the job has ended, or has started (the pace changes with the page)."""

    @st.fragment(run_every=WAIT_EVERY_S if waiting else FOLLOW_EVERY_S)
    def follow() -> None:
        status = lab.poll(queue, test, shelf)
        if lab.unreachable is not None:  # no answer: say so here and ask again at the same pace
            st.warning(f"{lab.unreachable} Asking again every few seconds.", icon=":material/cloud_off:")
            if status is None:  # nothing seen of this job yet
                return
        elif status is None or not status.live or (status.state == "queued") != waiting:
            st.rerun()  # the whole page: results, notes and an enabled Train button (or the training's pace)
        done = status.epoch * status.steps + status.batch + 1 if status.steps else 0
        st.progress(min(1.0, done / max(1, status.epochs * status.steps)), text=progress_text(status))
        if waiting:
            st.caption("You can keep using this page and the others meanwhile; the run starts by itself.")

    follow()


@st.fragment(run_every=CURVES_EVERY_S)
def follow_curves() -> None:
    """The curves so far and the first layer's kernels as they are now, from the status the progress bar
    last fetched: redrawn every few seconds, not at every tick of the bar."""
    status = lab.status
    if status is None or not (status.history or status.partial):
        return
    st.plotly_chart(lf.training_curves(status.history, status.partial, status.epochs, title="Training so far"),
                    width="stretch", key="lab_live")
    latest_snap = replay.latest_snapshot(ModelStore().root, status.key)
    if latest_snap is not None and latest_snap.kernels:  # the filters as they are right now
        st.image(latest_snap.kernels, caption=f"The first conv layer's kernels, {latest_snap.label}")


def _train() -> None:
    lab.train(queue, training_request(lab.settings))


def _cancel() -> None:
    lab.cancel(queue, test, shelf)


def _retry() -> None:
    lab.retry(queue)


def _continue(run, epochs: int) -> None:
    base = training_request(lab.settings)
    lab.train(queue, replace(base, config=run.config,
                             options=replace(run.options, epochs=int(epochs), continue_from=run.key)))


b1, b2, b3 = st.columns([1, 1, 3])
b1.button("Train", type="primary", icon=":material/play_arrow:", key="lab_train", on_click=_train,
          disabled=bool(problem) or lab.following or queue is None,
          help="Fix the architecture first." if problem else "Train these settings (or load an identical finished run).")
n_images = len(ds.x_train) if settings.n_train == 0 else min(settings.n_train, len(ds.x_train))
n_val = int(round(n_images * ex.VALIDATION_FRACTION))
b3.caption(f"{ex.options_summary(options)}. {n_images - n_val:,} images train, {n_val:,} validate; "
           "the test split is not touched.")
if lab.following and queue is not None and lab.status is None:
    lab.poll(queue, test, shelf)  # just submitted: is it waiting or training (or already done, from the store)?
if lab.following and queue is not None:
    b2.button("Cancel", icon=":material/stop:", key="lab_cancel_btn", on_click=_cancel,
              help="Stops after the current batch; a cancelled run is not stored.")
    waiting = lab.status is not None and lab.status.state == "queued"
    follow_job(waiting)
    if not waiting:
        follow_curves()
elif lab.failed is not None and queue is not None:
    b2.button("Retry", icon=":material/refresh:", key="lab_retry", on_click=_retry,
              help="Submit the run that failed once more.")
for note in lab.take_notes():
    if note.text != unavailable:  # a Train pressed as the queue went away: the line above says it already
        getattr(st, note.kind)(note.text)

# --- the latest run ------------------------------------------------------------------------------
latest = lab.run(lab.latest)
if latest is not None:
    st.header(f"{next(section)} · Results of {latest.id}")
    st.caption(latest.summary)
    ev = latest.extra["evaluation"]
    r1, r2, r3 = st.columns([2, 3, 3])
    r1.metric("Test accuracy", f"{latest.accuracy:.2%}", help=f"Scored on the {latest.test_label}.")
    r2.metric("Misclassified", f"{int((ev.predictions != ds.y_test).sum()):,} of {ev.n:,}")
    r3.metric("Training time", f"{latest.seconds:.1f} s" + (" (from the store)" if latest.loaded else ""))
    st.caption(f"Test accuracy is measured on the {latest.test_label}, digits the model never trained on. "
               f"{latest.params:,} parameters.")
    st.plotly_chart(lf.training_curves(latest.history, epochs=latest.options.epochs, title="Loss and accuracy per epoch"),
                    width="stretch", key="lab_curves_latest")
    watch_it_learn(latest.key)
    c1, c2 = st.columns([1, 1])
    c1.plotly_chart(lf.confusion_matrix(ev.confusion, title="Confusion matrix (test split)"), width="stretch",
                    key="lab_confusion")
    c2.plotly_chart(lf.per_class_accuracy(ev.per_class), width="stretch", key="lab_per_class")
    c2.caption("Off-diagonal cells of the matrix are the mistakes: row = the true digit, column = what the model said.")

    st.subheader("What it gets wrong, and right")
    wrong = ev.wrong(ds.y_test)
    rng = np.random.default_rng(0)
    if len(wrong):
        pick = np.sort(rng.choice(wrong, size=min(18, len(wrong)), replace=False))
        st.plotly_chart(lf.digit_gallery(ds.x_test[pick], [f'"{ev.predictions[i]}" (true {ds.y_test[i]}) '
                                                           f'{ev.confidence[i]:.0%}' for i in pick],
                                         cols=6, bad=[True] * len(pick),
                                         title=f"{len(wrong):,} misclassified test digits; a random {len(pick)} of them: "
                                               '"prediction" (true label) confidence'),
                        width="stretch", key="lab_wrong")
    else:
        st.success("Not a single test digit is misclassified.")
    right = np.flatnonzero(ev.predictions == ds.y_test)
    if len(right):
        pick = np.sort(rng.choice(right, size=min(6, len(right)), replace=False))
        st.plotly_chart(lf.digit_gallery(ds.x_test[pick], [f'"{ev.predictions[i]}" {ev.confidence[i]:.0%}' for i in pick],
                                         cols=6, title="Some digits it gets right"),
                        width="stretch", key="lab_right")

    kept = shelf.get(latest.key)
    if kept is not None and latest.config.is_cnn:
        st.subheader("Feature maps after training")
        st.caption(f"The same input, {digit.description}, through the filters this run learned.")
        conv_stages = [s for s in activations.stages(kept.model, digit.image) if s.kind == "Conv2D"]
        cols = st.columns(min(3, len(conv_stages)))
        for i, stage in enumerate(conv_stages):
            cols[i % len(cols)].plotly_chart(figures.mosaic(stage.array[0], title=f"{stage.name} (trained)", height=320),
                                             width="stretch", key=f"lab_trained_{stage.name}")
    k1, k2 = st.columns([1, 2], vertical_alignment="bottom")
    more = k1.number_input("More epochs", 1, 30, 2, key="lab_more_epochs")
    k2.button(f"Continue {latest.id} for {more} more epoch{'s' if more != 1 else ''}", icon=":material/fast_forward:",
              key="lab_continue", on_click=_continue, args=(latest, more), disabled=lab.following or queue is None,
              help="A new run that starts from this run's trained weights (a fresh optimizer: the store keeps "
                   "models without their optimizer state), with its own entry in the experiments table.")
    u1, u2 = st.columns([1, 2])
    active = shelf.active_key == latest.key
    u1.button("Use this model everywhere", icon=":material/published_with_changes:", key="lab_use",
              on_click=lab.use_everywhere, args=(latest.id, shelf), disabled=active, type="primary",
              help="The walkthrough and the Draw page will look through this model (for you only).")
    if active:
        u2.success(f"{latest.id} is the active model on every page (for you only). "
                   "Switch back in the sidebar's model picker.", icon=":material/check_circle:")
    path = ModelStore().paths(latest.key)[0]
    if path.exists():
        u2.download_button("Download the trained model (.keras)", data=path.read_bytes,
                           file_name=f"mnistviz_{latest.id.replace(' ', '_')}.keras",
                           mime="application/octet-stream", key="lab_download_model", on_click="ignore",
                           icon=":material/download:")

# --- experiments ---------------------------------------------------------------------------------
if lab.runs:
    st.header(f"{next(section)} · Your experiments")
    st.dataframe([r.table_row() for r in lab.runs], hide_index=True, width="stretch", key="lab_runs_table",
                 column_config={"run": st.column_config.TextColumn(width="small"),
                                "configuration": st.column_config.TextColumn(width="large"),
                                "validation accuracy": st.column_config.NumberColumn("val. acc.", format="percent",
                                                                                     width="small"),
                                "test accuracy": st.column_config.NumberColumn("test acc.", format="percent",
                                                                               width="small"),
                                "training time (s)": st.column_config.NumberColumn("time (s)", width="small"),
                                "source": st.column_config.TextColumn(width="small"),
                                "parameters": st.column_config.NumberColumn(format="localized", width="small")})
    st.plotly_chart(lf.compare_runs([(r.id, r.history) for r in lab.runs]), width="stretch", key="lab_compare")
    st.caption("In the configuration, 32@5×5 is 32 filters of 5×5 and ↓ a 2×2 max-pool after the layer. Runs are kept "
               "in the model store: running identical settings again loads the finished model instantly.")

# --- take it with you ----------------------------------------------------------------------------
st.header(f"{next(section)} · Take it with you")
if problem:
    st.info("Fix the architecture above to get its Keras code.")
else:
    code = models.keras_code(config, options)
    # Shown when asked: the code highlighter is a module of its own that costs each fresh load of this
    # page ~0.5 s of the browser's time (more on a school laptop), whatever the code's length.
    if st.toggle("Show the Keras code", key="lab_show_code",
                 help="The architecture and the training above as one Python script that runs outside the app."):
        st.code(code, language="python")
    st.download_button("Download this code (.py)", code, file_name="mnistviz_model.py", mime="text/x-python",
                       key="lab_download_code", on_click="ignore", icon=":material/download:")
st.caption("The page's address holds these settings: copy the link to share or reopen exactly this configuration.")

# The URL follows the settings (written only when they change).
query = ex.to_query(settings)
if query != st.query_params.to_dict():
    st.query_params.from_dict(query)
