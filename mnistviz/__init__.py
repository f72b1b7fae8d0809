"""mnistviz: the library behind the visual explainer of a CNN reading handwritten digits.

Modules (each has one job; none imports streamlit):

- ``data``         MNIST loading with an offline fallback to the bundled sample, and the
                   course's array helpers (scale, flatten, NHWC, one-hot).
- ``models``       ``ModelConfig``, the course presets, shape/parameter arithmetic, building.
- ``training``     one training function with a per-batch progress callback that can cancel.
- ``store``        trained models as ``.keras`` files keyed by a hash, written atomically.
- ``pretrained``   the default model shipped inside the package.
- ``activations``  every stage's output from one compiled forward pass.
- ``evaluation``   accuracy, confusion matrix, per-class accuracy.
- ``preprocess``   a canvas drawing or photo → the 28×28 MNIST-style input.
- ``answer_route`` the ``POST /api/answer`` route: a drawing's prediction right after the stroke.
- ``canvas_reading`` a canvas drawing decoded, preprocessed and passed forward once (route and page share it).
- ``convarith``    plain NumPy convolution and pooling, small enough to read every number.

TensorFlow is imported lazily by the modules that need it; importing this package is cheap.
"""

import os

# Must be set before TensorFlow's first import to keep its start-up chatter off the console.
# (TensorFlow's oneDNN kernels stay on, its default: they train about twice as fast on these CPUs.)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

# TensorFlow's start-up lines on a machine without a GPU driver: printed by its C++ side before its log
# level applies (or at error level, for cuInit), so TF_CPP_MIN_LOG_LEVEL cannot hold them back.
_NO_GPU_CHATTER = ("All log messages before absl::InitializeLog()", "Could not find cuda drivers",
                   "failed call to cuInit", "Unable to register cu")


def import_tensorflow_quietly():
    """Import TensorFlow and let it look for GPUs, with its no-GPU-driver chatter taken off stderr.

    Everything else it prints there is passed through. The app calls this once before anything else
    touches TensorFlow; later imports find the module loaded and print nothing."""
    import sys
    import tempfile

    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # the cuInit call happens here
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = [line for line in caught.read().decode(errors="replace").splitlines(keepends=True)
                    if not any(marker in line for marker in _NO_GPU_CHATTER)]
            sys.stderr.write("".join(kept))
    return tf
