"""Billet Studio: label billet ID stamps, synthesise stamps, train and score an ID reader."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("billet-studio")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
