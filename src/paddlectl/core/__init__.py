"""The core: runs, manifests, metrics, export, packaging, images. No typer, no rich, no docker."""
