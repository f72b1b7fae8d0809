"""Which page teaches what: the app's page list, which walkthrough page explains each Keras layer, and
the order of the "Next:" links. The navigation, the sidebar, the Draw page and the Overview all read
this one table.

A layer is matched to its page by ``isinstance`` on Keras layer classes (a subclass of ``Conv2D`` is
still a convolution). A layer the app has never seen (an uploaded model's ``BatchNormalization``,
``Activation``, ``LayerNormalization``, a custom class …) is explained on the page of the layer that
feeds it, since it reshapes or rescales that layer's output; a model that starts with one is explained
on the Overview.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Iterable, Sequence


@dataclass(frozen=True)
class Lesson:
    """One page of the app. ``stage`` names the part of the network a walkthrough page teaches
    ("conv", "pool", …; None for the other pages); ``sidebar`` lists the shared controls the page
    uses ("input": the input digit, "model": the active model)."""

    path: str  # relative to the app's folder, e.g. "pages/stage_conv.py"
    title: str
    icon: str
    section: str
    stage: str | None = None
    sidebar: tuple[str, ...] = ()
    default: bool = False
    needs_redis: bool = False  # only listed when the app runs with Redis (the class board)

    @property
    def topic(self) -> str:
        """The title without its step number: "3 · Convolution" → "Convolution"."""
        return self.title.split(" · ", 1)[-1]


WALKTHROUGH_SIDEBAR = ("input", "model")

LESSONS: tuple[Lesson, ...] = (
    Lesson("pages/home.py", "Home", ":material/home:", "Start", sidebar=("model",), default=True),
    Lesson("pages/draw.py", "Draw a digit", ":material/draw:", "Start", sidebar=("model",)),
    Lesson("pages/overview.py", "Overview", ":material/account_tree:", "Walkthrough", sidebar=WALKTHROUGH_SIDEBAR),
    Lesson("pages/stage_data.py", "1 · Data", ":material/grid_on:", "Walkthrough", "data", WALKTHROUGH_SIDEBAR),
    Lesson("pages/stage_reshape.py", "2 · Reshape to NHWC", ":material/view_in_ar:", "Walkthrough", "reshape",
           WALKTHROUGH_SIDEBAR),
    Lesson("pages/stage_conv.py", "3 · Convolution", ":material/filter:", "Walkthrough", "conv", WALKTHROUGH_SIDEBAR),
    Lesson("pages/stage_pool.py", "4 · Max pooling", ":material/compress:", "Walkthrough", "pool", WALKTHROUGH_SIDEBAR),
    Lesson("pages/stage_flatten.py", "5 · Flatten", ":material/linear_scale:", "Walkthrough", "flatten",
           WALKTHROUGH_SIDEBAR),
    Lesson("pages/stage_dense.py", "6 · Dense and dropout", ":material/hub:", "Walkthrough", "dense",
           WALKTHROUGH_SIDEBAR),
    Lesson("pages/stage_softmax.py", "7 · Logits and softmax", ":material/bar_chart:", "Walkthrough", "softmax",
           WALKTHROUGH_SIDEBAR),
    Lesson("pages/map.py", "Map of what it learned", ":material/scatter_plot:", "Walkthrough",
           sidebar=WALKTHROUGH_SIDEBAR),
    # The lab chooses its own model (its runs), so its sidebar shows only the input digit.
    Lesson("pages/lab.py", "Lab: train your own", ":material/science:", "Experiment", sidebar=("input",)),
    Lesson("pages/playground.py", "Convolution playground", ":material/calculate:", "Experiment"),
    Lesson("pages/teach.py", "Teach it your handwriting", ":material/edit_note:", "Experiment", sidebar=("model",)),
    # Only in the classroom setup (Redis): see ``available_lessons``.
    Lesson("pages/board.py", "Class board", ":material/leaderboard:", "Experiment", needs_redis=True),
)

STAGES: tuple[Lesson, ...] = tuple(lesson for lesson in LESSONS if lesson.stage)
OVERVIEW = LESSONS[2]
# The files in pages/ that are not pages: the modules the pages share.
PAGE_HELPERS = ("pages/__init__.py", "pages/shared.py", "pages/components.py", "pages/canvas_toolbar.py",
                "pages/draw_canvas.py", "pages/fragment_rerun.py", "pages/on_screen.py", "pages/static_part.py")


def available_lessons(redis: bool) -> tuple[Lesson, ...]:
    """The pages this server offers: those that need Redis only when it runs with Redis."""
    return tuple(lesson for lesson in LESSONS if redis or not lesson.needs_redis)


def sections(listed: Sequence[Lesson] = LESSONS) -> dict[str, list[Lesson]]:
    """The pages grouped by section, in order (what ``st.navigation`` takes)."""
    out: dict[str, list[Lesson]] = {}
    for lesson in listed:
        out.setdefault(lesson.section, []).append(lesson)
    return out


def lesson(path: str | PurePath) -> Lesson:
    """The lesson of a page file, given as "pages/x.py" or as a page's own ``__file__``."""
    name = PurePath(path).as_posix()
    for candidate in LESSONS:
        if name == candidate.path or name.endswith("/" + candidate.path):
            return candidate
    raise KeyError(f"no page {path!r} in mnistviz.lessons.LESSONS")


def stage(key: str) -> Lesson:
    """The walkthrough page of a stage key ("data", "reshape", "conv", "pool", "flatten", "dense", "softmax")."""
    for candidate in STAGES:
        if candidate.stage == key:
            return candidate
    raise KeyError(f"no walkthrough page for stage {key!r}")


def _stage_of_class(layer_class: type) -> str | None:
    """The stage a Keras layer class belongs to by itself, or None when it depends on its neighbours."""
    import keras

    L = keras.layers
    if issubclass(layer_class, L.InputLayer):
        return "data"
    if issubclass(layer_class, L.Reshape):
        return "reshape"
    if issubclass(layer_class, (L.Conv1D, L.Conv2D, L.Conv3D, L.DepthwiseConv2D, L.SeparableConv2D,
                                L.Conv2DTranspose)):
        return "conv"
    if issubclass(layer_class, (L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D, L.AveragePooling1D,
                                L.AveragePooling2D, L.AveragePooling3D, L.GlobalMaxPooling2D,
                                L.GlobalAveragePooling2D)):
        return "pool"
    if issubclass(layer_class, L.Flatten):
        return "flatten"
    if issubclass(layer_class, L.Softmax):
        return "softmax"
    if issubclass(layer_class, L.Dense):
        return "dense"  # the last Dense is the logits: see ``lessons_for_layers``
    return None


def lessons_for_layers(layers: Sequence) -> list[Lesson]:
    """The walkthrough page that explains each of ``layers`` (a model's ``model.layers``), in order.

    The last ``Dense`` layer makes the logits and is explained with the softmax; ``Dropout`` and any
    layer class the app has never seen go with the layer that feeds them."""
    import keras

    dense_at = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Dense)]
    last_dense = dense_at[-1] if dense_at else None
    out: list[Lesson] = []
    for i, layer in enumerate(layers):
        key = "softmax" if i == last_dense else _stage_of_class(type(layer))
        if key is not None:
            out.append(stage(key))
        else:
            out.append(out[-1] if out else OVERVIEW)
    return out


def unfamiliar_layers(layers: Sequence, page: Lesson) -> list[str]:
    """Names of the layers of ``layers`` explained on ``page`` that have no page of their own (e.g. an uploaded
    model's ``BatchNormalization`` or ``Activation``): the page shows them in a plain view (shape,
    parameters, values). ``Dropout`` is left out: the dense page teaches it."""
    import keras

    return [layer.name for layer, taught in zip(layers, lessons_for_layers(layers))
            if taught == page and _stage_of_class(type(layer)) is None
            and not isinstance(layer, (keras.layers.Dropout, keras.layers.InputLayer))]


def lesson_for_kind(kind: str) -> Lesson:
    """The page that explains a layer class given by its name (``Stage.kind``, e.g. "MaxPooling2D");
    the Overview for a class Keras does not know."""
    import keras

    cls = getattr(keras.layers, kind, None)
    key = _stage_of_class(cls) if isinstance(cls, type) else None
    return stage(key) if key else OVERVIEW


def next_lesson(path: str | PurePath, taught: Iterable[Lesson] | None = None) -> Lesson | None:
    """The walkthrough page after ``path`` (Overview → 1 · Data → … → 7 · Logits and softmax; None after
    the last). With ``taught`` (e.g. ``lessons_for_layers(model.layers)``), pages about stages the
    model does not have are skipped; 1 · Data is never skipped, every model starts from the pixels."""
    order = [OVERVIEW, *STAGES]
    here = lesson(path)
    if here not in order:
        return None
    keep = None if taught is None else {*taught, stage("data")}
    for candidate in order[order.index(here) + 1:]:
        if keep is None or candidate in keep:
            return candidate
    return None
