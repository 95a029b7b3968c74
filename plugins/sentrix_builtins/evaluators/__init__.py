"""Built-in evaluators (one per file), registered under the `sentrix.evaluators` entry-point group."""
