"""The desktop window (PySide6). The only package that imports Qt.

Threads: the GUI thread only paints and reacts. Work runs on two lanes (tasks.Lane): the writer
lane owns the Engine (indexing, roots, the watcher) and the query lane owns the Searcher, so
typing never waits behind indexing. Short read-only jobs (extracting a preview) use a shared pool.
"""
