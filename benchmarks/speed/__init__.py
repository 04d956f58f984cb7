"""Speed benchmarks: each script prints its figures and writes benchmarks/results/<name>.{json,md}."""
