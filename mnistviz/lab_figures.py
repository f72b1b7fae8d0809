"""Moved to ``mnistviz.figures.training``; this name stays only until ``pages/lab.py`` imports the new one."""

from .figures.training import (compare_runs, confusion_matrix, digit_gallery, per_class_accuracy,  # noqa: F401
                               training_curves)
