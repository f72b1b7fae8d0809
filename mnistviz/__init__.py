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
- ``convarith``    plain NumPy convolution and pooling, small enough to read every number.

TensorFlow is imported lazily by the modules that need it; importing this package is cheap.
"""

import os

# Must be set before TensorFlow's first import to keep its start-up chatter off the console.
# (TensorFlow's oneDNN kernels stay on, its default: they train about twice as fast on these CPUs.)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
