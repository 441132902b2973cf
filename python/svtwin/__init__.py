"""svtwin: readers for svtwin's Cosmos-style HDF5 training shards (docs/shard-format.md)."""

from .loader import (CODEC_FILTERS, SCHEMA_NAME, SCHEMA_VERSION, ClipDataset, FilterMissing,
                     TorchClipDataset, check_filters, read_index, shard_paths)

__all__ = ["CODEC_FILTERS", "SCHEMA_NAME", "SCHEMA_VERSION", "ClipDataset", "FilterMissing",
           "TorchClipDataset", "check_filters", "read_index", "shard_paths"]
