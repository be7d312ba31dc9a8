"""windmaker: brand-growth operating system for live-stream commerce."""

__version__ = "0.1.0"
