"""Experiments on the model: runs, ensembles, counterfactuals, sensitivity, benchmarks."""
