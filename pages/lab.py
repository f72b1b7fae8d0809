"""Lab: change the architecture and training, see the shapes at once, train while watching, compare runs."""

from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np
import streamlit as st

from mnistviz import activations, experiments as ex, figures, lab_figures as lf, models
from mnistviz.data import scale
from mnistviz.evaluation import evaluate
from mnistviz.store import ModelStore, data_fingerprint
from pages.shared import DATA_SOURCE, LabModel, data_caption, dataset, input_picker, untrained_model

SETTINGS = "lab_settings"  # the canonical settings (a dict of LabSettings fields); widgets mirror it
MAX_MODELS_KEPT = 4  # trained models kept in memory for this session (older runs keep only their numbers)


# --- state and callbacks -----------------------------------------------------------------------

def _init_state() -> None:
    if SETTINGS not in st.session_state:  # first visit this session: the URL may carry settings
        settings, skipped = ex.from_query(st.query_params.to_dict())
        if not st.query_params:  # a plain visit opens on the course text's CNN, exactly as the preset has it
            settings = ex.from_preset("course_cnn", settings)
        st.session_state[SETTINGS] = settings.to_dict()
        st.session_state["lab_url_skipped"] = skipped
        st.session_state["lab_preset"] = "course_cnn" if not st.query_params else "custom"
    st.session_state.setdefault("lab_runs", [])
    st.session_state.setdefault("lab_trained", {})
    st.session_state.setdefault("lab_models", {})


def _load_preset() -> None:
    key = st.session_state["lab_preset"]
    if key == "custom":
        return
    settings = ex.from_preset(key, ex.LabSettings(**st.session_state[SETTINGS]))
    st.session_state[SETTINGS] = settings.to_dict()
    for name, value in settings.to_dict().items():
        st.session_state[f"lab_w_{name}"] = value


def _start_training() -> None:
    st.session_state["lab_training"] = True
    st.session_state["lab_cancel"] = False


def _cancel_training() -> None:
    st.session_state["lab_cancel"] = True


def _use_everywhere(run_id: str) -> None:
    rec = next(r for r in st.session_state["lab_runs"] if r.id == run_id)
    model = st.session_state["lab_trained"].get(run_id)
    if model is None:
        return
    st.session_state["lab_models"][run_id] = LabModel(run_id, model, rec.config, rec.options,
                                                      f"Lab {run_id}: {rec.summary}", {"accuracy": rec.accuracy})
    st.session_state["active_model"] = run_id


@st.cache_data(show_spinner=False)
def _data_id(source: str) -> str:
    ds = dataset()
    return data_fingerprint(ds.x_train, ds.y_train)


_init_state()
S: dict = st.session_state[SETTINGS]
TRAINING = bool(st.session_state.get("lab_training"))


def ctl(widget, name: str, label: str, **kw):
    """One widget bound to setting ``name``: starts from the canonical value, writes back what it shows."""
    key = f"lab_w_{name}"
    if key not in st.session_state:
        st.session_state[key] = S[name]
    S[name] = widget(label, key=key, disabled=TRAINING, **kw)
    return S[name]


def _nearest(value, options):
    return value if value in options else min(options, key=lambda o: abs(o - value))


# --- the page ----------------------------------------------------------------------------------

st.title("Lab: build, train and compare your own network")
st.markdown(
    "Move the sliders: the table of layers and the feature maps below update at once, before any "
    "training. Then train on a few thousand digits (a quick run takes seconds), watch the curves grow, "
    "and see what the trained model gets wrong. Every run lands in the experiments table so you can "
    "compare, say, an MLP against a CNN, or batch size 32 against 10,000."
)
data_caption()
ds = dataset()
digit = input_picker()
for msg in st.session_state.pop("lab_url_skipped", []) or []:
    st.warning(f"The link's setting `{msg}` is not valid here and was ignored.")

# Sanitise values the widgets cannot show (e.g. more images than this data set has).
train_sizes = [n for n in ex.TRAIN_SIZES if n < len(ds.x_train)] + [0]
S["n_train"] = S["n_train"] if S["n_train"] in train_sizes else _nearest(S["n_train"] or 10**9, train_sizes[:-1])
if st.session_state.get("lab_w_n_train") not in (None, *train_sizes):
    st.session_state["lab_w_n_train"] = S["n_train"]

with st.container(border=True):
    st.subheader(":material/tune: Settings")
    preset_keys = ["custom", *models.PRESETS]
    st.selectbox("Start from a course model", preset_keys, key="lab_preset", on_change=_load_preset,
                 disabled=TRAINING,
                 format_func=lambda k: "(your own settings)" if k == "custom" else models.PRESETS[k].title,
                 help="Loads the model's architecture and training options into the sliders below.")
    if st.session_state["lab_preset"] != "custom":
        p = models.PRESETS[st.session_state["lab_preset"]]
        differs = [k for k, v in ex.from_preset(p.key, ex.LabSettings(**S)).to_dict().items() if S[k] != v]
        st.caption(f"From the course: {p.source}." + (f" You changed: {', '.join(differs)}." if differs else ""))

    arch, train_col = st.columns([3, 2], gap="large")
    with arch:
        st.markdown("**Architecture**")
        a1, a2 = st.columns(2)
        blocks = ctl(a1.slider, "blocks", "Conv blocks", min_value=0, max_value=ex.MAX_BLOCKS,
                     help="0 makes a plain MLP: the 784 pixels go straight into the dense layers.")
        ctl(a2.radio, "padding", "Padding", options=list(models.PADDINGS), horizontal=True,
            help="'same' pads the border so a map keeps its size; 'valid' shrinks it by kernel − 1.")
        a3, a4 = st.columns(2)
        ctl(a3.selectbox, "conv_activation", "Conv activation", options=list(models.ACTIVATIONS))
        with a4:
            st.write("")  # line the toggle up with the select box beside it
            ctl(st.toggle, "batch_norm", "Batch norm",
                help="Normalise each layer's outputs over the batch (conv and dense layers), then apply the activation.")
        if blocks:
            cols = st.columns(ex.MAX_BLOCKS)
            for b in range(1, blocks + 1):
                with cols[b - 1].container(border=True):
                    st.markdown(f"Block {b}")
                    ctl(st.slider, f"filters{b}", "Filters", min_value=1, max_value=128)
                    ctl(st.select_slider, f"kernel{b}", "Kernel size", options=list(ex.KERNEL_SIZES),
                        format_func=lambda k: f"{k}×{k}")
                    ctl(st.radio, f"convs{b}", "Conv layers", options=[1, 2], horizontal=True,
                        help="Two conv layers in a row see a wider patch before pooling (as in the batch-norm CNN).")
                    ctl(st.checkbox, f"pool{b}", "2×2 max-pool after")
        d1, d2 = st.columns(2)
        ctl(d1.slider, "dense_layers", "Hidden dense layers", min_value=0, max_value=ex.MAX_DENSE)
        ctl(d2.number_input, "units", "Units per dense layer", min_value=1, max_value=4096, step=1)
        d3, d4 = st.columns(2)
        ctl(d3.slider, "dropout", "Dropout", min_value=0.0, max_value=0.8, step=0.05,
            help="The fraction of dense units switched off at random on each training step.")
        ctl(d4.selectbox, "dense_activation", "Dense activation", options=list(models.ACTIVATIONS))
    with train_col:
        st.markdown("**Training**")
        t1, t2 = st.columns(2)
        ctl(t1.radio, "optimizer", "Optimizer", options=list(ex.OPTIMIZER_NAMES), horizontal=True,
            format_func={"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD"}.get)
        ctl(t2.radio, "schedule", "Learning rate over time", options=list(ex.SCHEDULES), horizontal=True,
            format_func={"constant": "constant", "cosine": "cosine decay"}.get)
        ctl(st.select_slider, "learning_rate", "Learning rate", options=list(ex.LEARNING_RATES),
            format_func=lambda v: f"{v:g}")
        ctl(st.select_slider, "batch_size", "Batch size", options=list(ex.BATCH_SIZES), format_func=lambda v: f"{v:,}",
            help="Images per weight update. The course asks: what do 10,000 and 32 do to time and accuracy?")
        ctl(st.slider, "epochs", "Epochs", min_value=1, max_value=30)
        ctl(st.select_slider, "n_train", "Training images", options=train_sizes,
            format_func=lambda n: f"all {len(ds.x_train):,}" if n == 0 else f"{n:,}",
            help="The first N training digits; the last 10 % of them are held out for the validation curve.")
        ctl(st.toggle, "augment", "Augmentation", help="Each batch is randomly rotated ±10°, shifted ±10 % and zoomed ±10 %.")

settings = ex.LabSettings(**S)
config, options = settings.to_config(), settings.to_options()
problem = ex.check(settings)

# --- 1. the architecture, live -----------------------------------------------------------------
st.header("1 · The architecture, as Keras will build it")
if problem:
    st.error(f"**This network cannot be built.** {problem.rstrip('.')}.", icon=":material/block:")
else:
    rows = models.layer_table(config)
    m1, m2, m3 = st.columns(3)
    m1.metric("Parameters", f"{models.count_params(config):,}")
    m2.metric("Layers", len(rows) - 1)
    m3.metric("Kind", "CNN" if config.is_cnn else "MLP (no convolutions)")
    st.dataframe(
        [{"layer": r.name, "type": r.kind, "output shape": str(r.batch_shape).replace("None", "None (batch)", 1),
          "parameters": r.params, "how the count is made": r.formula} for r in rows],
        hide_index=True, width="stretch", key="lab_table", height=len(rows) * 35 + 3,  # every row, no inner scroll
    )
    st.caption("The first axis is the batch: Keras leaves it open (None) so the same model takes one digit or 10,000.")

# --- 2. what the untrained filters see ---------------------------------------------------------
if not problem:
    st.header("2 · Feature maps before training")
    if not config.is_cnn:
        st.info("With 0 conv blocks there are no feature maps: the dense layer reads the 784 pixels directly.")
    else:
        fresh = untrained_model(config.to_json())
        conv_stages = [s for s in activations.stages(fresh, digit.image) if s.kind == "Conv2D"]
        st.caption(f"The {digit.description} through randomly initialised filters (one tile per filter, "
                   "bright = strong). Random filters already respond to edges and blobs; training makes them useful.")
        cols = st.columns(min(3, len(conv_stages)))
        for i, stage in enumerate(conv_stages):
            cols[i % len(cols)].plotly_chart(
                figures.mosaic(stage.array[0], title=f"{stage.name}: {stage.shape[1]}×{stage.shape[2]}×{stage.shape[3]}",
                               height=320),
                width="stretch", key=f"lab_fresh_{stage.name}")

# --- 3. train ----------------------------------------------------------------------------------
st.header("3 · Train")
stopped = st.session_state.pop("lab_stopped", None)
if stopped is not None:
    if st.session_state.pop("lab_cancel", False) or stopped.get("cancelled"):
        st.warning(f"Training cancelled at {stopped['where']}. Nothing from that run was kept.", icon=":material/cancel:")
    else:
        st.warning(f"Training stopped at {stopped['where']} because the page reloaded (another control or page "
                   "was used). Nothing from that run was kept; press Train to start again.", icon=":material/cancel:")
for note in st.session_state.pop("lab_notes", []):
    st.warning(note)

b1, b2, b3 = st.columns([1, 1, 3])
b1.button("Train", type="primary", icon=":material/play_arrow:", key="lab_train", on_click=_start_training,
          disabled=bool(problem) or TRAINING,
          help="Fix the architecture first." if problem else "Train these settings (or load an identical finished run).")
n_images = len(ds.x_train) if settings.n_train == 0 else min(settings.n_train, len(ds.x_train))
b3.caption(f"{ex.options_summary(options)}. {n_images - int(round(n_images * ex.VALIDATION_FRACTION)):,} images "
           f"train, {int(round(n_images * ex.VALIDATION_FRACTION)):,} validate; the test split is not touched.")

if TRAINING and not problem:
    b2.button("Cancel", icon=":material/stop:", key="lab_cancel_btn", on_click=_cancel_training,
              help="Stops after the current batch; nothing from a cancelled run is kept.")
    bar = st.progress(0.0, text="Starting… (building the model; the first batch compiles it)")
    chart = st.empty()
    snap: dict = {}
    history: dict = {}
    throttle = ex.RedrawThrottle(per_epoch=4, min_s=0.5)
    last_bar = [0.0]

    def on_progress(p) -> bool:
        if p.kind == "batch":  # (the epoch-end report after a cancel says "last batch": not where it stopped)
            snap.update(epoch=p.epoch, epochs=p.epochs, batch=p.batch, steps=p.steps)
        if st.session_state.get("lab_cancel"):
            return False
        if p.kind == "epoch":
            for k, v in p.logs.items():
                history.setdefault(k, []).append(v)
        now = time.perf_counter()
        if p.kind == "epoch" or now - last_bar[0] > 0.3:  # every st call is also where a Cancel press arrives
            last_bar[0] = now
            bar.progress(p.fraction, text=f"Epoch {p.epoch + 1}/{p.epochs} · batch {p.batch + 1}/{p.steps} · "
                                          f"{ex.format_seconds(p.elapsed)} elapsed · about {ex.format_seconds(p.eta)} left")
        if throttle.due(p.kind, p.batch, p.steps):
            partial = None if p.kind == "epoch" else {"epoch": p.epoch + (p.batch + 1) / p.steps, **p.logs}
            chart.plotly_chart(lf.training_curves(history, partial, p.epochs, title="Training so far"),
                               width="stretch", key=f"lab_live_{p.epoch}_{p.batch}_{p.kind}")
        return True

    finished = False
    try:
        outcome = ex.run_or_load(config, options, ds.x_train, ds.y_train, ModelStore(), _data_id(DATA_SOURCE),
                                 progress=on_progress)
        finished = True
    finally:
        st.session_state["lab_training"] = False
        if not finished:  # interrupted by a rerun (Cancel or another control): keep nothing
            st.session_state["lab_stopped"] = {"where": ex.describe_stop(snap), "cancelled": False}
    notes = [outcome.warning] if outcome.warning else []
    if outcome.cancelled:
        st.session_state["lab_stopped"] = {"where": ex.describe_stop(snap), "cancelled": True}
    else:
        bar.progress(1.0, text="Scoring the test split…")
        ev = evaluate(outcome.model, ds.x_test, ds.y_test)
        run_id = f"run {len(st.session_state['lab_runs']) + 1}"
        rec = ex.RunRecord(run_id, outcome.key, ex.architecture_summary(config) + " · " + ex.options_summary(options),
                           config, options, models.count_params(config), outcome.seconds, outcome.history,
                           ev.accuracy, ds.test_label, outcome.loaded, {"evaluation": ev})
        st.session_state["lab_runs"].append(rec)
        trained = st.session_state["lab_trained"]
        trained[run_id] = outcome.model
        in_use = set(st.session_state["lab_models"])
        for old in [k for k in trained if k not in in_use][:-MAX_MODELS_KEPT]:
            trained.pop(old)
        st.session_state["lab_latest"] = run_id
        if outcome.loaded:
            notes.append(f"{run_id}: an identical run was already in the model store, so it was loaded instead of "
                         f"retrained (it took {outcome.seconds:.1f} s to train originally).")
    st.session_state["lab_notes"] = notes
    st.rerun()  # redraw the page with the controls enabled again and the results below

# --- 4. the latest run -------------------------------------------------------------------------
runs: list[ex.RunRecord] = st.session_state["lab_runs"]
latest = next((r for r in runs if r.id == st.session_state.get("lab_latest")), None)
if latest is not None:
    st.header(f"4 · Results of {latest.id}")
    st.caption(latest.summary)
    ev = latest.extra["evaluation"]
    r1, r2, r3 = st.columns([2, 3, 3])
    r1.metric("Test accuracy", f"{latest.accuracy:.2%}", help=f"Scored on the {ds.test_label}.")
    r2.metric("Misclassified", f"{int((ev.predictions != ds.y_test).sum()):,} of {ev.n:,}")
    r3.metric("Training time", f"{latest.seconds:.1f} s" + (" (from the store)" if latest.loaded else ""))
    st.caption(f"Test accuracy is measured on the {ds.test_label}, digits the model never trained on. "
               f"{latest.params:,} parameters.")
    st.plotly_chart(lf.training_curves(latest.history, epochs=latest.options.epochs, title="Loss and accuracy per epoch"),
                    width="stretch", key="lab_curves_latest")
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

    model = st.session_state["lab_trained"].get(latest.id)
    if model is not None and latest.config.is_cnn:
        st.subheader("Feature maps after training")
        st.caption(f"The same {digit.description}, through the filters this run learned.")
        conv_stages = [s for s in activations.stages(model, digit.image) if s.kind == "Conv2D"]
        cols = st.columns(min(3, len(conv_stages)))
        for i, stage in enumerate(conv_stages):
            cols[i % len(cols)].plotly_chart(figures.mosaic(stage.array[0], title=f"{stage.name} (trained)", height=320),
                                             width="stretch", key=f"lab_trained_{stage.name}")
    if model is not None:
        u1, u2 = st.columns([1, 2])
        active = st.session_state.get("active_model") == latest.id
        u1.button("Use this model everywhere", icon=":material/published_with_changes:", key="lab_use",
                  on_click=_use_everywhere, args=(latest.id,), disabled=active or TRAINING, type="primary",
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

# --- 5. experiments ----------------------------------------------------------------------------
if runs:
    st.header("5 · Your experiments")
    st.dataframe([r.table_row() for r in runs], hide_index=True, width="stretch", key="lab_runs_table",
                 column_config={"validation accuracy": st.column_config.NumberColumn(format="percent"),
                                "test accuracy": st.column_config.NumberColumn(format="percent"),
                                "parameters": st.column_config.NumberColumn(format="localized")})
    st.plotly_chart(lf.compare_runs([(r.id, r.history) for r in runs]), width="stretch", key="lab_compare")
    st.caption("In the configuration, 32@5×5 is 32 filters of 5×5 and ↓ a 2×2 max-pool after the layer. Runs are kept "
               "in the model store: running identical settings again loads the finished model instantly.")

# --- 6. take it with you -----------------------------------------------------------------------
st.header("6 · Take it with you")
if problem:
    st.info("Fix the architecture above to get its Keras code.")
else:
    code = models.keras_code(config, options)
    st.code(code, language="python")
    st.download_button("Download this code (.py)", code, file_name="mnistviz_model.py", mime="text/x-python",
                       key="lab_download_code", on_click="ignore", icon=":material/download:")
st.caption("The page's address holds these settings: copy the link to share or reopen exactly this configuration.")

# The URL follows the settings (written only when they change).
query = ex.to_query(settings)
if query != st.query_params.to_dict():
    st.query_params.from_dict(query)
