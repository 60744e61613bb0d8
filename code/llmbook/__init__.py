"""llmbook — the package of the interactive textbook
*Large Language Models: Principles and Practice* (大语言模型：原理与工程实践).

Chapters import its modules by name, e.g. ``from llmbook import attention``.
"""

__version__ = "0.1.0"

# Set every random generator the book's cells use, in one call.
from .env import quiet_library_logs, seed_everything  # noqa: E402,F401

quiet_library_logs()
