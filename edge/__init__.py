"""fieldkit's edge node: runtime, configuration, scene and journal, API and command-post page."""

__version__ = "0.1.0"
