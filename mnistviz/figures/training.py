"""The lab's Plotly figures: training curves, run comparison, confusion matrix, per-class accuracy, digit gallery."""

from __future__ import annotations

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .images import picture

TRAIN_COLOR = "#3b5bdb"
VAL_COLOR = "#e8590c"


def training_curves(history: dict, partial: dict | None = None, epochs: int | None = None,
                    title: str | None = None, height: int = 300) -> go.Figure:
    """Loss and accuracy per epoch, train and validation, side by side.

    ``history`` holds per-epoch lists (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``);
    ``partial`` the running means of the epoch in progress (``epoch`` as a float, ``loss``,
    ``accuracy``), drawn as a dotted continuation so the curve grows within an epoch.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss (cross-entropy)", "Accuracy"), horizontal_spacing=0.1)
    for col, metric in ((1, "loss"), (2, "accuracy")):
        for prefix, name, color in (("", "train", TRAIN_COLOR), ("val_", "validation", VAL_COLOR)):
            ys = history.get(prefix + metric) or []
            if ys:
                fig.add_trace(go.Scatter(x=list(range(1, len(ys) + 1)), y=ys, mode="lines+markers", name=name,
                                         line=dict(color=color), legendgroup=name, showlegend=col == 1,
                                         hovertemplate=f"epoch %{{x}}<br>{name} {metric} %{{y:.4f}}<extra></extra>"),
                              row=1, col=col)
        if partial and metric in partial:
            done = history.get(metric) or []
            xs = [len(done), partial["epoch"]] if done else [partial["epoch"]]
            ys = [done[-1], partial[metric]] if done else [partial[metric]]
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name="train (epoch in progress)",
                                     line=dict(color=TRAIN_COLOR, dash="dot"), marker=dict(symbol="circle-open"),
                                     legendgroup="partial", showlegend=col == 1,
                                     hovertemplate=f"epoch %{{x:.2f}}<br>running {metric} %{{y:.4f}}<extra></extra>"),
                          row=1, col=col)
    fig.update_xaxes(title="epoch", rangemode="tozero")
    if epochs:
        fig.update_xaxes(range=[0, epochs + 0.2], dtick=max(1, epochs // 10))
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02], row=1, col=2)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=50 if title else 30, b=10), title=title,
                      legend=dict(orientation="h", y=-0.25))
    return fig


def compare_runs(runs: list[tuple[str, dict]], metric: str = "val_accuracy", height: int = 320) -> go.Figure:
    """One line per run: ``(label, history)`` pairs, ``metric`` per epoch overlaid."""
    fig = go.Figure()
    for label, history in runs:
        ys = history.get(metric) or []
        fig.add_trace(go.Scatter(x=list(range(1, len(ys) + 1)), y=ys, mode="lines+markers", name=label,
                                 hovertemplate=f"{label}<br>epoch %{{x}}: %{{y:.4f}}<extra></extra>"))
    nice = metric.replace("val_", "validation ").replace("_", " ")
    fig.update_xaxes(title="epoch", dtick=1)
    fig.update_yaxes(title=nice, tickformat=".0%" if "accuracy" in metric else None)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), title=f"{nice.capitalize()} per epoch",
                      legend=dict(orientation="h", y=-0.25))
    return fig


def confusion_matrix(confusion: np.ndarray, title: str = "Confusion matrix", height: int = 420) -> go.Figure:
    """Counts, rows = true digit, columns = predicted digit; the diagonal is what the model gets right."""
    z = np.asarray(confusion)
    fig = px.imshow(z, x=[str(d) for d in range(10)], y=[str(d) for d in range(10)], text_auto=True,
                    color_continuous_scale="Blues", aspect="equal", labels=dict(x="predicted digit", y="true digit",
                                                                                color="count"))
    fig.update_traces(hovertemplate="true %{y}, predicted %{x}: %{z} digits<extra></extra>")
    fig.update_xaxes(side="top", type="category")
    fig.update_yaxes(type="category")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=60, b=10), title=title)
    return fig


def per_class_accuracy(per_class: np.ndarray, title: str = "Accuracy per true digit", height: int = 280) -> go.Figure:
    p = np.nan_to_num(np.asarray(per_class, dtype=np.float64), nan=0.0)
    worst = int(np.argmin(p))
    colors = ["#e8590c" if d == worst else TRAIN_COLOR for d in range(len(p))]
    fig = go.Figure(go.Bar(x=[str(d) for d in range(len(p))], y=p, marker_color=colors,
                           text=[f"{v:.1%}" for v in p], textposition="auto",
                           hovertemplate="digit %{x}: %{y:.2%}<extra></extra>"))
    lo = max(0.0, float(p.min()) - 0.1)
    fig.update_yaxes(range=[lo, 1.0], tickformat=".0%", title="accuracy")  # accuracy ends at 100 %
    fig.update_xaxes(title="true digit", type="category")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), title=title)
    return fig


def digit_gallery(images: np.ndarray, captions: list[str], cols: int = 6, title: str | None = None,
                  pad: int = 10, scale: int = 3, bad: list[bool] | None = None) -> go.Figure:
    """Digits ``(N, 28, 28)`` as ONE image (a grid), each with a caption above it, e.g. ``"7" (true 2) 64%``."""
    imgs = np.asarray(images, dtype=np.float32)
    if imgs.size and imgs.max() > 1.0:
        imgs = imgs / 255.0
    n = len(imgs)
    cols = max(1, min(cols, n)) if n else 1
    rows = max(1, -(-n // cols))
    cell_h, cell_w = 28 + pad, 28 + 2
    canvas = np.zeros((rows * cell_h, cols * cell_w), np.float32)  # black background, as on every page
    for k in range(n):
        r, c = divmod(k, cols)
        y0, x0 = r * cell_h + pad, c * cell_w + 1
        canvas[y0:y0 + 28, x0:x0 + 28] = imgs[k]  # white ink on black (MNIST's own polarity)
    fig = picture(np.rint(canvas * 255).astype(np.uint8), upscale=scale)
    for k, cap in enumerate(captions[:n]):
        r, c = divmod(k, cols)
        color = "#ff8787" if (bad[k] if bad is not None else False) else "#e9ecef"
        fig.add_annotation(x=(c * cell_w + 1 + 14) * scale, y=(r * cell_h + pad / 2) * scale, text=cap,
                           showarrow=False, font=dict(size=12, color=color), yanchor="middle")
    fig.update_layout(height=rows * cell_h * scale + (50 if title else 10), margin=dict(l=0, r=0, t=40 if title else 0, b=0),
                      title=title)
    return fig


def learning_rate_demo(curves: dict, height: int = 320) -> go.Figure:
    """``backprop.learning_curve``'s result: per learning rate, this digit's loss (left) and the accuracy on other
    digits (right) before each step and after the last."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss on this digit", "accuracy on other digits"))
    colours = px.colors.sequential.Plasma_r[2::2]
    for i, (lr, curve) in enumerate(sorted(curves.items())):
        steps = list(range(len(curve.loss)))
        colour = colours[i % len(colours)]
        fig.add_trace(go.Scatter(x=steps, y=curve.loss, mode="lines+markers", name=f"rate {lr:g}", legendgroup=str(lr),
                                 line=dict(color=colour), hovertemplate="after %{x} steps: loss %{y:.4g}<extra></extra>"),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=steps, y=curve.others, mode="lines+markers", name=f"rate {lr:g}", legendgroup=str(lr),
                                 showlegend=False, line=dict(color=colour),
                                 hovertemplate="after %{x} steps: %{y:.1%} right<extra></extra>"), row=1, col=2)
    fig.update_xaxes(title="steps", dtick=1)
    fig.update_yaxes(title="loss", row=1, col=1)
    fig.update_yaxes(title="accuracy", tickformat=".0%", range=[0, 1.02], row=1, col=2)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return fig
