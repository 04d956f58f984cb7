"""Benchmarks and result generators; each script runs from the repository root as
`python -m benchmarks.<name>` (so its siblings import as `benchmarks.<module>`)."""
