"""Benchmarks of waap_sessions (`make bench`): ratios against baselines measured in the same run."""
