"""Showing the package's code on the page where it is taught.

The book keeps each piece of code once, in this package; a chapter shows it with
``show_source(obj)``, so what the reader sees is exactly what runs.
"""

from __future__ import annotations

import inspect
import textwrap

__all__ = ["show_source", "max_abs_diff"]


def show_source(obj, *, start: str | None = None) -> "object":
    """Display the source of a function, class or method as a Python code block.

    ``start`` skips everything before the first line that contains it (e.g. to show
    only ``forward``). Returns an ``IPython.display.Markdown`` object.
    """
    from IPython.display import Markdown

    try:
        source = inspect.getsource(obj)
    except (TypeError, OSError) as exc:
        raise TypeError(f"cannot show the source of {obj!r}: pass a function, class or "
                        f"method defined in a .py file ({exc}).") from None
    source = textwrap.dedent(source)
    if start is not None:
        lines = source.splitlines()
        hits = [i for i, line in enumerate(lines) if start in line]
        if not hits:
            raise ValueError(f"{start!r} does not occur in the source of {obj!r}.")
        source = textwrap.dedent("\n".join(lines[hits[0]:]))
    module = getattr(obj, "__module__", "")
    header = f"# {module}.{getattr(obj, '__qualname__', '')}\n" if module else ""
    return Markdown(f"```python\n{header}{source.rstrip()}\n```")


def max_abs_diff(a, b) -> float:
    """The largest absolute difference between two tensors of the same shape."""
    import torch

    a, b = torch.as_tensor(a).detach(), torch.as_tensor(b).detach()
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}.")
    return float((a.double() - b.double()).abs().max())
