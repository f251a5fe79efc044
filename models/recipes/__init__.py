"""The project's demo weights: training recipes (synthetic scenes only; run once, offline) and
models.recipes.demo, which ships or builds them. The model wrappers never import this package;
models.weights reaches it only to resolve the spec 'demo'."""
