"""Feed aggregator and syndication server for Chinese regional and local news.

The flow, one module per step: sources (definitions) → fetch → parse / split → clean →
tag (regions, topics) → merge (stories) → store → render → web. `daemon` runs the scheduler
and the server in one asyncio process; `cli` is a thin layer over all of it.
"""

__version__ = "0.1.0"
