"""desktop_search: local, offline semantic search over a person's own files."""

import os

# llama.cpp's OpenMP threads spin while waiting by default; on a 2-core machine shared with
# another busy process that collapses throughput to a quarter. Must be set before llama_cpp loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
