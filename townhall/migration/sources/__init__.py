"""The readers of export files, one module per format (``records.FORMATS``), each with a
``read(path, *, on_bytes=None) -> Iterator[Record]`` (see ``townhall.migration.records``)."""

from __future__ import annotations

from importlib import import_module

from townhall.migration.records import FORMATS, Reader


def reader(format: str) -> Reader:
    """The ``read`` function of a format; ValueError for a format Townhall does not read."""
    if format not in FORMATS:
        raise ValueError(f"Unknown format {format!r}: use one of {', '.join(FORMATS)}.")
    module = import_module(f"townhall.migration.sources.{format}")
    read: Reader = module.read
    return read
