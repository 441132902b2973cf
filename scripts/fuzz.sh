#!/bin/sh
# `make fuzz`: placeholder until the ingest fuzz targets land.
echo "no fuzz targets yet" >&2
exit 1
