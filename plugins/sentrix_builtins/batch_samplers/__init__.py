"""Built-in batch samplers (one per file), registered under the `sentrix.batch_samplers` entry-point group."""
